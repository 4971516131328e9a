//! Wire dialects: one file per dialect, holding everything that dialect
//! says on the wire, server side and client side, so the two cannot drift.
//!
//! The contract is the [`Protocol`] trait; each dialect file has one unit
//! type implementing it, and the [`Dialect`] enum names them for targets,
//! metrics and the CLI and dispatches to them statically. A seventh
//! dialect is one new file and one line in the `dialects!` list below —
//! the compiler checks that it implements the whole contract.
//!
//! Server side, every dialect is served by the same skeleton ([`serve`]):
//! the dialect checks the request head before the body is read
//! ([`Protocol::admit_headers`]: credentials in headers), then *admits*
//! the request (checks the rest in its documented order and
//! turns it into an engine operation, or refuses it with a [`Refusal`]),
//! the engine decides, and the dialect renders in two steps:
//! [`Protocol::observe`] says what of the engine's [`Outcome`] reaches the
//! wire (an [`Observed`]) and [`Protocol::render`] writes that as a
//! [`Reply`]. Dialects know nothing of stores; paths of different dialects
//! never collide, so all of them are served on one listener.
//!
//! Client side, a dialect builds requests from abstract operations
//! ([`SendOp`], [`VerifyOp`]) and a target's [`Credentials`] plus the
//! [`Session`] its login hook opened (LoyaltyDog's JWT), and
//! [`Protocol::classify`] reads any response back into an [`Observed`] —
//! so `classify(render(o)) == o` is a property the tests check for every
//! dialect. It reads by the vendor document, not by the server side's
//! wording: [`Protocol::read`] gives the reading taken, the other outcomes
//! the document leaves open for the answer and how it was read (a
//! [`Classified`]); only what the document fixes is required, and an
//! answer outside it is `unrecognized` with the rule it broke.
//!
//! The client side in a few lines (the caller does the HTTP):
//!
//! ```
//! use otpbench::dialect::{Credentials, Dialect, Operation, SendOp, Session, WireResponse};
//! use otpbench::OutcomeKind;
//!
//! let send = SendOp { to: "79991234567".into(), purpose: Some("login".into()), ..SendOp::default() };
//! let request = Dialect::Rees46
//!     .send_request(&Credentials::default(), &Session::default(), &send)
//!     .unwrap();
//! assert_eq!(request.path, "/loyalty/otp/send");
//!
//! let headers = hyper::HeaderMap::new();
//! let body = br#"{"success": false, "payload": {"message": "Too many requests"}}"#;
//! let response = WireResponse { status: 429, headers: &headers, body };
//! let observed = Dialect::Rees46.classify(Operation::Send, &response);
//! assert_eq!(observed.kind(), OutcomeKind::RateLimited);
//!
//! let odd = WireResponse { status: 429, headers: &headers, body: b"slow down" };
//! assert_eq!(Dialect::Rees46.classify(Operation::Send, &odd).kind(), OutcomeKind::Unrecognized);
//! ```

// Refusals travel as ready `Reply`s or `Observed`s (~150 bytes) on the
// cold path; boxing them would buy nothing but an allocation.
#![allow(clippy::result_large_err)]

mod client;
mod loyaltydog;
mod native;
mod nomado;
mod prelude;
mod rees46;
mod reply;
mod sigmasms;
mod valify;
pub(crate) mod wire;

use std::borrow::Cow;
use std::time::Duration;

use hyper::HeaderMap;

pub use client::{
    authorization_scheme_only, code_shape, email, phone, phone_space, wrong_code, Classified,
    ClientError, Credentials, SendOp, Session, VerifyOp, WireRequest, WireResponse,
};
pub use loyaltydog::{LoyaltyDog, TokenKeys};
pub use native::Native;
pub use nomado::Nomado;
pub use rees46::{Customer, Customers, Rees46};
pub use reply::{ErrorRow, ErrorTable, Reply};
pub use sigmasms::SigmaSms;
pub use valify::{egyptian_mobile, Valify};

pub(crate) use native::{
    not_found as not_found_native, reject as reject_native, render_outcome as render_native,
};

use crate::config::Config;
use crate::delivery::Template;
use crate::engine::identifier::Identifier;
use crate::engine::outcome::{Observed, Outcome, OutcomeKind, Receipt};
use crate::engine::policy::Policy;
use crate::engine::{ChallengeRef, Engine, SendRequest, VerifyRequest};
use crate::http;

/// What admitting a request gives: the engine call, or the refusal.
pub type Admitted<T> = Result<T, Refusal>;

/// `Authorization: Bearer <expected>`, or `refused`.
pub(crate) fn require_bearer(
    headers: &HeaderMap,
    expected: &str,
    refused: Outcome,
) -> Admitted<()> {
    match http::auth::bearer_token(headers) {
        Some(token) if http::auth::secret_eq(token, expected) => Ok(()),
        _ => Err(refused.into()),
    }
}

/// What building a client request gives.
pub type Built = Result<WireRequest, ClientError>;

/// What one wire dialect is: its routes, its server side and its client
/// side. Implemented by one unit type per dialect file.
pub trait Protocol {
    /// The name used in targets, metrics and the CLI.
    const NAME: &'static str;
    /// The path prefix all of this dialect's routes share; unknown paths
    /// under it are answered in this dialect's shape.
    const PREFIX: &'static str;
    /// The outcomes this dialect answers besides [`COMMON_OUTCOMES`].
    const ALSO_PRODUCES: &'static [OutcomeKind];
    /// Every path this dialect serves and the operation at it.
    const ROUTES: &'static [(&'static str, Operation)];

    /// The operation served at `path`, if this dialect serves it.
    fn route(path: &str) -> Option<Operation> {
        Self::ROUTES
            .iter()
            .find(|(route, _)| *route == path)
            .map(|&(_, operation)| operation)
    }

    // ---- server side -------------------------------------------------

    /// The checks of the dialect's documented order that need only the
    /// request head — credentials in headers, and what comes before them
    /// (Valify's content type) — run before the body is read, so a client
    /// without credentials cannot make the server hold its body. By
    /// default there are none (REES46's credentials are in the body).
    fn admit_headers(
        context: &ServeContext<'_>,
        _: Operation,
        headers: &HeaderMap,
    ) -> Admitted<()> {
        match Self::BEARER {
            Some(token) => require_bearer(headers, token(context.config), Outcome::Unauthorized),
            None => Ok(()),
        }
    }

    /// For dialects whose only head check is a bearer token (401 without
    /// it): where the config keeps the token.
    const BEARER: Option<fn(&Config) -> &str> = None;

    /// Checks a send request whose head [`Protocol::admit_headers`]
    /// passed, in the dialect's documented order, and says what to ask
    /// the engine.
    fn admit_send<'a>(context: &ServeContext<'a>, request: &Request<'_>) -> Admitted<SendCall<'a>>;

    /// Checks a verify request and says what to ask the engine.
    fn admit_verify(context: &ServeContext<'_>, request: &Request<'_>) -> Admitted<VerifyCall>;

    /// Serves an operation that is neither send nor verify (LoyaltyDog's
    /// token endpoint); by default, no such path.
    fn serve_other(_context: &ServeContext<'_>, _request: &Request<'_>) -> Reply {
        Self::reject(Rejection::NotFound)
    }

    /// Runs after the engine issued a code to `to` (REES46 records the
    /// customer); by default nothing.
    fn on_sent(_context: &ServeContext<'_>, _to: &Identifier) {}

    /// Whether this server's answers carry codes where the dialect has a
    /// field for them: with `--echo-codes`, by default. LoyaltyDog also in
    /// test mode, its vendor's dev/test mode.
    fn echoes_codes(context: &ServeContext<'_>) -> bool {
        context.echo_codes
    }

    /// Whether a known path with a trailing slash added is redirected
    /// (307) to the path without it, as FastAPI's `redirect_slashes` does.
    const REDIRECTS_SLASHES: bool = false;

    /// What of an engine outcome this dialect puts on the wire.
    /// `echo_codes` is what [`Protocol::echoes_codes`] said.
    fn observe(outcome: &Outcome, echo_codes: bool) -> Observed;

    /// Renders an outcome, as observed, for `operation`; `id` is the
    /// challenge handle the request quoted (echoed by some verifies).
    fn render(observed: &Observed, operation: Operation, id: Option<&str>) -> Reply;

    /// Answers a request that never reached an operation.
    fn reject(rejection: Rejection) -> Reply;

    // ---- client side -------------------------------------------------

    /// The request that opens a session (a login), for dialects that need
    /// one before sending; `None` for the others.
    fn login_request(_credentials: &Credentials) -> Option<WireRequest> {
        None
    }

    /// Reads the answer to [`Protocol::login_request`] into a session.
    fn read_login(response: &WireResponse<'_>) -> Result<Session, ClientError> {
        Err(ClientError::BadResponse(format!(
            "{} has no login, yet got a login answer ({})",
            Self::NAME,
            response.status
        )))
    }

    /// The request for a send.
    fn send_request(credentials: &Credentials, session: &Session, send: &SendOp) -> Built;

    /// The request for a verify.
    fn verify_request(credentials: &Credentials, session: &Session, verify: &VerifyOp) -> Built;

    /// What a response to `operation` says by the vendor document: the
    /// reading taken, the others the document leaves open, and how it was
    /// read; [`Outcome::Unrecognized`] with the rule it broke when it fits
    /// nothing the document allows.
    fn read(operation: Operation, response: &WireResponse<'_>) -> Classified;

    /// The reading [`Protocol::read`] takes.
    fn classify(operation: Operation, response: &WireResponse<'_>) -> Observed {
        Self::read(operation, response).observed
    }
}

/// Declares the dialects: the [`Dialect`] enum and its static dispatch to
/// each dialect's [`Protocol`] implementation.
macro_rules! dialects {
    ($($variant:ident => $protocol:ty),+ $(,)?) => {
        /// Every dialect the server speaks.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Dialect {
            $($variant),+
        }

        impl Dialect {
    /// The policy this dialect serves under in `config`.
    pub fn policy_in(self, config: &mut Config) -> &mut crate::engine::policy::Policy {
        match self {
            Dialect::Native => &mut config.native.policy,
            Dialect::Rees46 => &mut config.rees46.policy,
            Dialect::Sigmasms => &mut config.sigmasms.policy,
            Dialect::Valify => &mut config.valify.policy,
            Dialect::Nomado => &mut config.nomado.policy,
            Dialect::Loyaltydog => &mut config.loyaltydog.policy,
        }
    }

            /// How many dialects there are.
            pub const COUNT: usize = [$(Dialect::$variant),+].len();

            /// Every dialect (`dialect as usize` indexes it).
            pub const ALL: [Dialect; Dialect::COUNT] = [$(Dialect::$variant),+];

            /// The name used in targets, metrics and the CLI.
            pub fn name(self) -> &'static str {
                match self { $(Dialect::$variant => <$protocol>::NAME),+ }
            }

            /// The path prefix all of this dialect's routes share.
            fn prefix(self) -> &'static str {
                match self { $(Dialect::$variant => <$protocol>::PREFIX),+ }
            }

            fn also_produces(self) -> &'static [OutcomeKind] {
                match self { $(Dialect::$variant => <$protocol>::ALSO_PRODUCES),+ }
            }

            fn route_own(self, path: &str) -> Option<Operation> {
                match self { $(Dialect::$variant => <$protocol>::route(path)),+ }
            }

            fn redirects_slashes(self) -> bool {
                match self { $(Dialect::$variant => <$protocol>::REDIRECTS_SLASHES),+ }
            }

            /// Serves one routed request whose body was read: the head's
            /// checks, then the rest (public so benchmarks and embedders
            /// can call it).
            pub async fn serve(self, context: &ServeContext<'_>, request: Request<'_>) -> Reply {
                match self.admit_headers(context, request.operation, request.headers) {
                    Some(refused) => refused,
                    None => self.serve_admitted(context, request).await,
                }
            }

            /// The answer to a request whose head fails the dialect's
            /// checks ([`Protocol::admit_headers`]), or `None` when the
            /// server is to read the body and go on.
            pub fn admit_headers(
                self,
                context: &ServeContext<'_>,
                operation: Operation,
                headers: &HeaderMap,
            ) -> Option<Reply> {
                match self {
                    $(Dialect::$variant => admit_headers::<$protocol>(context, operation, headers)),+
                }
            }

            /// Serves a request whose head [`Dialect::admit_headers`]
            /// passed.
            pub async fn serve_admitted(self, context: &ServeContext<'_>, request: Request<'_>) -> Reply {
                match self { $(Dialect::$variant => serve::<$protocol>(context, request).await),+ }
            }

            /// Answers a request that never reached an operation; a 405
            /// always says in `Allow` which methods the path takes (RFC
            /// 9110 §15.5.6), whatever the dialect's body.
            pub fn reject(self, rejection: Rejection) -> Reply {
                let reply = match self { $(Dialect::$variant => <$protocol>::reject(rejection)),+ };
                match rejection {
                    Rejection::MethodNotAllowed(allow) if !reply.headers.contains_key(hyper::header::ALLOW) => {
                        reply.with_header(hyper::header::ALLOW, hyper::header::HeaderValue::from_static(allow))
                    }
                    _ => reply,
                }
            }

            /// What of an engine outcome this dialect puts on the wire.
            pub fn observe(self, outcome: &Outcome, echo_codes: bool) -> Observed {
                match self { $(Dialect::$variant => <$protocol>::observe(outcome, echo_codes)),+ }
            }

            /// Renders an outcome, as observed, for `operation`.
            pub fn render(self, observed: &Observed, operation: Operation, id: Option<&str>) -> Reply {
                match self { $(Dialect::$variant => <$protocol>::render(observed, operation, id)),+ }
            }

            /// Client side: the login request, for dialects with sessions.
            pub fn login_request(self, credentials: &Credentials) -> Option<WireRequest> {
                match self { $(Dialect::$variant => <$protocol>::login_request(credentials)),+ }
            }

            /// Client side: reads a login answer into a session.
            pub fn read_login(self, response: &WireResponse<'_>) -> Result<Session, ClientError> {
                match self { $(Dialect::$variant => <$protocol>::read_login(response)),+ }
            }

            /// Client side: the request for a send.
            pub fn send_request(
                self,
                credentials: &Credentials,
                session: &Session,
                send: &SendOp,
            ) -> Result<WireRequest, ClientError> {
                match self {
                    $(Dialect::$variant => <$protocol>::send_request(credentials, session, send)),+
                }
            }

            /// Client side: the request for a verify.
            pub fn verify_request(
                self,
                credentials: &Credentials,
                session: &Session,
                verify: &VerifyOp,
            ) -> Result<WireRequest, ClientError> {
                match self {
                    $(Dialect::$variant => <$protocol>::verify_request(credentials, session, verify)),+
                }
            }

            /// Client side: what a response to `operation` says.
            pub fn classify(self, operation: Operation, response: &WireResponse<'_>) -> Observed {
                match self { $(Dialect::$variant => <$protocol>::classify(operation, response)),+ }
            }

            /// Client side: what a response to `operation` says, with the
            /// other readings the vendor document allows and how it was
            /// read.
            pub fn read(self, operation: Operation, response: &WireResponse<'_>) -> Classified {
                match self { $(Dialect::$variant => <$protocol>::read(operation, response)),+ }
            }
        }
    };
}

dialects! {
    Native => Native,
    Rees46 => Rees46,
    Sigmasms => SigmaSms,
    Valify => Valify,
    Nomado => Nomado,
    Loyaltydog => LoyaltyDog,
}

impl Dialect {
    /// The dialect with this name.
    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The dialect and operation served at `path`, if any.
    pub fn route(path: &str) -> Option<(Dialect, Operation)> {
        Dialect::ALL
            .into_iter()
            .find_map(|dialect| dialect.route_own(path).map(|op| (dialect, op)))
    }

    /// Where an unrouted `path` is redirected to, for dialects that
    /// redirect a trailing slash ([`Protocol::REDIRECTS_SLASHES`]): the
    /// route without the slash.
    pub fn slash_redirect(path: &str) -> Option<(Dialect, &str)> {
        let bare = path.strip_suffix('/')?;
        let (dialect, _) = Dialect::route(bare)?;
        dialect.redirects_slashes().then_some((dialect, bare))
    }

    /// Whose error shape an unknown path gets: the dialect whose path
    /// prefix it has, else native (otpbench's own).
    pub fn owner_of(path: &str) -> Dialect {
        Dialect::ALL
            .into_iter()
            .find(|&dialect| path.starts_with(dialect.prefix()))
            .unwrap_or(Dialect::Native)
    }

    /// The outcomes this dialect's server side can answer, in
    /// [`OutcomeKind::ALL`] order.
    pub fn produces(self) -> Vec<OutcomeKind> {
        let also = self.also_produces();
        OutcomeKind::ALL
            .into_iter()
            .filter(|kind| COMMON_OUTCOMES.contains(kind) || also.contains(kind))
            .collect()
    }

    /// Whether the client must log in before sending (and may have to
    /// again when the session lapses).
    pub fn has_login(self) -> bool {
        self.login_request(&Credentials::default()).is_some()
    }
}

impl<'de> serde::Deserialize<'de> for Dialect {
    /// By name; anything else is an error listing the names.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::names::named(deserializer, "dialect", &Dialect::ALL, |d| d.name())
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The head's checks, before the body is read; a refusal rendered.
fn admit_headers<P: Protocol>(
    context: &ServeContext<'_>,
    operation: Operation,
    headers: &HeaderMap,
) -> Option<Reply> {
    if matches!(operation, Operation::Other) {
        return None;
    }
    match P::admit_headers(context, operation, headers) {
        Ok(()) => None,
        Err(Refusal::Answer(reply)) => Some(reply),
        Err(Refusal::Outcome(outcome)) => {
            let observed = P::observe(&outcome, false);
            Some(P::render(&observed, operation, None))
        }
    }
}

/// The one serve skeleton, after the head's checks: admit → engine →
/// observe → render.
async fn serve<P: Protocol>(context: &ServeContext<'_>, request: Request<'_>) -> Reply {
    let operation = request.operation;
    let admitted = match operation {
        Operation::Send => match P::admit_send(context, &request) {
            Ok(call) => {
                let to = call.request.to.clone();
                let outcome = context.engine.send(&call.policy, call.request).await;
                if let Outcome::Sent(_) = outcome {
                    P::on_sent(context, &to);
                }
                Ok((outcome, call.echo))
            }
            Err(refusal) => Err(refusal),
        },
        Operation::Verify => match P::admit_verify(context, &request) {
            Ok(call) => Ok((context.engine.verify(call.request).await, call.echo)),
            Err(refusal) => Err(refusal),
        },
        Operation::Token | Operation::Other => return P::serve_other(context, &request),
    };
    let (outcome, echo) = match admitted {
        Ok(answer) => answer,
        Err(Refusal::Outcome(outcome)) => (outcome, Echo::default()),
        Err(Refusal::Answer(reply)) => return reply,
    };
    let mut observed = P::observe(&outcome, P::echoes_codes(context));
    if let (Observed::Sent(receipt), Outcome::Sent(sent)) = (&mut observed, &outcome) {
        echo.annotate(receipt, sent.code.as_str());
    }
    P::render(&observed, operation, echo.id.as_deref())
}

/// Why a request gets no engine operation: an outcome the dialect renders
/// like any other, or a ready answer in the dialect's shape.
pub enum Refusal {
    Outcome(Outcome),
    Answer(Reply),
}

impl From<Outcome> for Refusal {
    fn from(outcome: Outcome) -> Self {
        Refusal::Outcome(outcome)
    }
}

impl From<Reply> for Refusal {
    fn from(reply: Reply) -> Self {
        Refusal::Answer(reply)
    }
}

impl From<crate::engine::outcome::Invalid> for Refusal {
    fn from(reason: crate::engine::outcome::Invalid) -> Self {
        Refusal::Outcome(Outcome::InvalidInput { reason })
    }
}

/// A send the dialect admitted: the policy it runs under, the engine
/// request, and what the answer repeats of the request.
pub struct SendCall<'a> {
    pub policy: Cow<'a, Policy>,
    pub request: SendRequest,
    pub echo: Echo,
}

impl<'a> SendCall<'a> {
    /// A send of a code to `to` for `purpose`, within `tenant`, under
    /// `policy`, in a message made from `template`.
    pub fn new(
        policy: &'a Policy,
        tenant: &str,
        to: Identifier,
        purpose: impl Into<String>,
        template: &Template,
    ) -> SendCall<'a> {
        SendCall {
            policy: Cow::Borrowed(policy),
            request: SendRequest {
                tenant: tenant.to_string(),
                to,
                purpose: purpose.into(),
                channel: None,
                reachable: None,
                template: template.clone(),
                from: None,
            },
            echo: Echo::default(),
        }
    }

    /// The same under a policy made for this request (Nomado's).
    pub fn under(mut self, policy: Policy) -> SendCall<'a> {
        self.policy = Cow::Owned(policy);
        self
    }
}

/// A verify the dialect admitted.
pub struct VerifyCall {
    pub request: VerifyRequest,
    pub echo: Echo,
}

impl VerifyCall {
    /// Checks `code` against the challenge of `to` and `purpose`.
    pub fn by_key(tenant: &str, to: Identifier, purpose: &str, code: &str) -> VerifyCall {
        let by = ChallengeRef::Key {
            tenant: tenant.to_string(),
            to,
            purpose: purpose.to_string(),
        };
        VerifyCall::new(by, code)
    }

    /// Checks `code` against the challenge a send answered with `id`.
    pub fn by_id(tenant: &str, id: uuid::Uuid, code: &str) -> VerifyCall {
        let by = ChallengeRef::Id {
            tenant: tenant.to_string(),
            id: crate::engine::outcome::ChallengeId(id),
        };
        VerifyCall::new(by, code)
    }

    /// Checks `code` against the challenge `by` names.
    pub fn new(by: ChallengeRef, code: &str) -> VerifyCall {
        VerifyCall {
            request: VerifyRequest {
                by,
                code: code.to_string(),
            },
            echo: Echo::default(),
        }
    }

    /// The same, with the answer repeating the handle the request quoted.
    pub fn quoting(mut self, id: impl Into<String>) -> VerifyCall {
        self.echo.id = Some(id.into());
        self
    }
}

/// What a dialect's answer repeats of its request, beyond the engine's
/// outcome.
#[derive(Debug, Clone, Default)]
pub struct Echo {
    /// The challenge handle the request quoted (SigmaSMS, Valify verify).
    pub id: Option<String>,
    /// The recipient as the answer names it (Nomado's `data` key).
    pub to: Option<String>,
    /// The message template, for answers that show the text (Nomado).
    pub template: Option<Template>,
}

impl Echo {
    /// Adds what the answer shows of the request to a send's receipt.
    fn annotate(&self, receipt: &mut Receipt, code: &str) {
        if let Some(to) = &self.to {
            receipt.to = Some(to.clone());
        }
        if let Some(template) = &self.template {
            receipt.text = Some(template.render(code));
        }
    }
}

/// The outcomes every dialect's server side answers; each dialect lists
/// the rest it can answer as [`Protocol::ALSO_PRODUCES`].
pub const COMMON_OUTCOMES: [OutcomeKind; 12] = {
    // Every kind but the three only some dialects answer.
    let mut common = [OutcomeKind::Sent; 12];
    let (mut i, mut n) = (0, 0);
    while i < OutcomeKind::ALL.len() {
        let kind = OutcomeKind::ALL[i];
        if !matches!(
            kind,
            OutcomeKind::Forbidden | OutcomeKind::UnsupportedMediaType | OutcomeKind::Unrecognized
        ) {
            common[n] = kind;
            n += 1;
        }
        i += 1;
    }
    assert!(n == common.len());
    common
};

/// What a request asks the engine to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Send,
    Verify,
    /// Obtaining an access token (LoyaltyDog `/v2/token`).
    Token,
    /// Anything else (unknown paths).
    Other,
}

impl Operation {
    /// Every operation (`operation as usize` indexes it).
    pub const ALL: [Operation; 4] = [
        Operation::Send,
        Operation::Verify,
        Operation::Token,
        Operation::Other,
    ];

    /// The metrics label.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Send => "send",
            Operation::Verify => "verify",
            Operation::Token => "token",
            Operation::Other => "other",
        }
    }
}

/// What a dialect handler gets besides the request.
pub struct ServeContext<'a> {
    pub engine: &'a Engine,
    pub config: &'a Config,
    /// `--echo-codes`: put the code into responses that have a field for it.
    pub echo_codes: bool,
    /// `--test-mode` (LoyaltyDog fills `mockCode`, as in its dev mode).
    pub test_mode: bool,
    /// State some dialects keep besides challenges.
    pub state: &'a DialectState,
}

/// What dialects remember besides challenges: REES46's customer records
/// and the key LoyaltyDog signs its access tokens with.
pub struct DialectState {
    pub customers: Customers,
    pub tokens: TokenKeys,
}

impl DialectState {
    /// Fresh state for a server with this config.
    pub fn new(config: &Config) -> DialectState {
        DialectState {
            customers: Customers::default(),
            tokens: TokenKeys::new(config.secret.as_deref()),
        }
    }
}

/// A request that was routed and whose body was read within the limit.
pub struct Request<'a> {
    pub operation: Operation,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Why a request never reached an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No such path.
    NotFound,
    /// Path exists, method does not; the value lists allowed methods.
    MethodNotAllowed(&'static str),
    /// Body over the 64 KiB limit.
    PayloadTooLarge,
    /// The body could not be read (the client went away mid-body).
    UnreadableBody,
    /// The body was not all there within the server's time limit (408).
    RequestTimeout,
}

impl Rejection {
    /// The outcome a rejection counts as.
    pub fn outcome(self) -> OutcomeKind {
        match self {
            Rejection::NotFound => OutcomeKind::NotFound,
            _ => OutcomeKind::InvalidInput,
        }
    }
}

/// A wait as the wire carries it: whole seconds in `Retry-After`.
fn wire_wait(wait: Duration) -> Option<Duration> {
    Some(Duration::from_secs(reply::retry_after_secs(wait)))
}

/// What most dialects show of an engine outcome: a bare receipt, no
/// attempt counts, waits in whole seconds (the `Retry-After` header), and
/// invalid input reduced by `invalid` to what the dialect says of it.
pub(crate) fn observe_common(
    outcome: &Outcome,
    invalid: impl FnOnce(&crate::engine::outcome::Invalid) -> crate::engine::outcome::Invalid,
) -> Observed {
    match outcome {
        Outcome::Sent(_) => Observed::Sent(Receipt::default()),
        Outcome::Verified => Observed::Verified,
        Outcome::WrongCode { .. } => Observed::WrongCode {
            attempts_remaining: None,
        },
        Outcome::Expired => Observed::Expired,
        Outcome::AttemptsExceeded { retry_after } => Observed::AttemptsExceeded {
            retry_after: wire_wait(*retry_after),
        },
        Outcome::NotFound => Observed::NotFound,
        Outcome::RateLimited { retry_after } => Observed::RateLimited {
            retry_after: wire_wait(*retry_after),
        },
        Outcome::InvalidInput { reason } => Observed::InvalidInput {
            reason: invalid(reason),
        },
        Outcome::Unauthorized => Observed::Unauthorized,
        Outcome::Forbidden => Observed::Forbidden,
        Outcome::UnsupportedMediaType => Observed::UnsupportedMediaType,
        Outcome::ProviderUnavailable => Observed::ProviderUnavailable,
        Outcome::StoreUnavailable { retry_after } => Observed::StoreUnavailable {
            retry_after: wire_wait(*retry_after),
        },
        // A server never answers `unrecognized`; it stands for a bug.
        Outcome::InternalError | Outcome::Unrecognized { .. } => Observed::InternalError,
    }
}

/// An error answer read by its status alone (its document fixes the
/// status, not the text): the reading [`client::by_status`] takes, noted
/// with `why` (what was not recognised); `unrecognized` quoting `rule`
/// when the status means none of the outcomes.
pub(crate) fn read_status(
    operation: Operation,
    response: &WireResponse<'_>,
    why: &str,
    rule: &str,
    invalid: impl FnOnce() -> crate::engine::outcome::Invalid,
) -> Classified {
    match client::by_status(operation, response.status) {
        Some((kind, also)) => {
            let observed = documented(kind, response, invalid);
            let mut reading = format!(
                "{why}; read by its status {} as {}",
                response.status,
                kind.name()
            );
            if !also.is_empty() {
                let names: Vec<&str> = also.iter().map(|k| k.name()).collect();
                reading.push_str(&format!(" (may also mean {})", names.join(", ")));
            }
            Classified::noted(observed, reading).or(also)
        }
        None => response.unrecognized(rule).into(),
    }
}

/// The observed outcome of a documented error answer of `kind`; waits come
/// from the response's `Retry-After`, an invalid-input reason from
/// `invalid` (what the dialect's answer says of the field).
pub(crate) fn documented(
    kind: OutcomeKind,
    response: &WireResponse<'_>,
    invalid: impl FnOnce() -> crate::engine::outcome::Invalid,
) -> Observed {
    let wait = response.retry_after();
    match kind {
        OutcomeKind::WrongCode => Observed::WrongCode {
            attempts_remaining: None,
        },
        OutcomeKind::Expired => Observed::Expired,
        OutcomeKind::AttemptsExceeded => Observed::AttemptsExceeded { retry_after: wait },
        OutcomeKind::NotFound => Observed::NotFound,
        OutcomeKind::RateLimited => Observed::RateLimited { retry_after: wait },
        OutcomeKind::InvalidInput => Observed::InvalidInput { reason: invalid() },
        OutcomeKind::Unauthorized => Observed::Unauthorized,
        OutcomeKind::Forbidden => Observed::Forbidden,
        OutcomeKind::UnsupportedMediaType => Observed::UnsupportedMediaType,
        OutcomeKind::ProviderUnavailable => Observed::ProviderUnavailable,
        OutcomeKind::StoreUnavailable => Observed::StoreUnavailable { retry_after: wait },
        OutcomeKind::InternalError => Observed::InternalError,
        OutcomeKind::Sent | OutcomeKind::Verified | OutcomeKind::Unrecognized => {
            response.unrecognized("a success kind among the errors")
        }
    }
}
