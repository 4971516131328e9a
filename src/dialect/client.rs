//! The client side's vocabulary: abstract operations in, wire requests
//! out; wire responses in, [`Observed`] outcomes out.
//!
//! Each dialect file builds its requests from a [`SendOp`] / [`VerifyOp`]
//! and the target's [`Credentials`], and classifies responses with the
//! helpers here. Nothing here performs I/O: the scenario runner and the
//! load generator own the HTTP client and call these to speak a dialect.
//!
//! The client side's rules that are not one dialect's, one each: a wrong
//! code ([`wrong_code`]), the recipients drawn ([`phone`], [`email`]),
//! the shape of the code a send makes ([`code_shape`]), and what of the
//! credentials a report may show ([`Credentials::mask_credentials`],
//! [`Credentials::masked_header`]).

use std::fmt;
use std::time::Duration;

use hyper::header::RETRY_AFTER;
use hyper::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::DEFAULT_BEARER;
use crate::delivery::Channel;
use crate::dialect::Dialect;
use crate::dialect::Operation;
use crate::engine::code::Alphabet;
use crate::engine::outcome::{Observed, OutcomeKind};
use crate::engine::policy::Policy;

/// A target's credentials (the `auth` keys of DESIGN.md §5). Each dialect
/// reads the ones it needs; the defaults are the test credentials of
/// DESIGN.md §3.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Credentials {
    /// native, SigmaSMS, Valify: `Authorization: Bearer <bearer>`.
    pub bearer: String,
    /// REES46.
    pub shop_id: String,
    pub shop_secret: String,
    /// SigmaSMS: the widget sends go through.
    pub widget_id: String,
    /// Valify.
    pub bundle_key: String,
    /// Nomado: `user:pass` for Basic auth.
    pub basic: String,
    /// LoyaltyDog: exchanged for a JWT at `/v2/token`.
    pub api_key: String,
}

/// What a client holds between requests to one target after logging in
/// (LoyaltyDog's JWT from `/v2/token`): state, never configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// The access token to send as `Authorization: Bearer`.
    pub access_token: Option<String>,
    /// How long the server said the token lasts.
    pub lifetime: Option<Duration>,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            bearer: DEFAULT_BEARER.to_string(),
            shop_id: crate::config::DEFAULT_SHOP_ID.to_string(),
            shop_secret: crate::config::DEFAULT_SHOP_SECRET.to_string(),
            widget_id: crate::config::DEFAULT_ACTIVE_WIDGET.to_string(),
            bundle_key: crate::config::DEFAULT_BUNDLE_KEY.to_string(),
            basic: crate::config::DEFAULT_BASIC.to_string(),
            api_key: crate::config::DEFAULT_API_KEY.to_string(),
        }
    }
}

/// An abstract send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendOp {
    /// The recipient as the dialect writes it (each dialect's own format:
    /// REES46 `79991234567`, Valify `01…`).
    pub to: String,
    /// The purpose (native `purpose`, REES46 `event`); dialects without
    /// purposes ignore it.
    pub purpose: Option<String>,
    /// native: deliver on this channel only.
    pub channel: Option<Channel>,
    /// Nomado: code alphabet, length and expiry of this code.
    pub alphabet: Option<Alphabet>,
    pub length: Option<u8>,
    pub expiry: Option<Duration>,
    /// Nomado: message template (must hold `{{CODE}}`).
    pub template: Option<String>,
    /// Valify: `en` or `ar`.
    pub lang: Option<String>,
}

/// An abstract verify.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOp {
    /// The recipient the code was sent to.
    pub to: String,
    pub purpose: Option<String>,
    /// The handle the send's receipt carried (SigmaSMS and Valify need it;
    /// native uses it when given, else `to` and `purpose`).
    pub id: Option<String>,
    pub code: String,
}

impl VerifyOp {
    /// The handle of the send this verify quotes, which `what` names in
    /// the dialect's words (SigmaSMS and Valify verify by it).
    pub fn handle(&self, what: &'static str) -> Result<&str, ClientError> {
        self.id.as_deref().ok_or(ClientError::Missing(what))
    }
}

/// A request to send: always `POST` with a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRequest {
    pub path: &'static str,
    /// Besides `Content-Type: application/json`, which is always sent.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl WireRequest {
    /// A JSON request with these extra headers.
    pub(crate) fn json(
        path: &'static str,
        headers: Vec<(&'static str, String)>,
        body: &Value,
    ) -> WireRequest {
        WireRequest {
            path,
            headers,
            body: body.to_string().into_bytes(),
        }
    }
}

/// A response as the client received it.
#[derive(Debug, Clone, Copy)]
pub struct WireResponse<'a> {
    pub status: u16,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl WireResponse<'_> {
    /// The body as a JSON object, or why it is not one.
    pub(crate) fn object(&self) -> Result<Map<String, Value>, Observed> {
        match serde_json::from_slice::<Value>(self.body) {
            Ok(Value::Object(object)) => Ok(object),
            Ok(_) => Err(self.unrecognized("the body is JSON but not an object")),
            Err(_) => Err(self.unrecognized("the body is not JSON")),
        }
    }

    /// `Unrecognized`, quoting the status and (the start of) the body.
    pub(crate) fn unrecognized(&self, why: &str) -> Observed {
        let body = String::from_utf8_lossy(self.body);
        let body: String = body.chars().take(200).collect();
        Observed::unrecognized(format!("{why}: {} {body}", self.status))
    }

    /// The `Retry-After` header in seconds, if present and numeric.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        let value = self.headers.get(RETRY_AFTER)?.to_str().ok()?;
        value.trim().parse::<u64>().ok().map(Duration::from_secs)
    }
}

/// What a response says, as the client side reads it: the reading taken,
/// the other outcomes the vendor document leaves open for it, and, when
/// the document let more than one reading stand (or the answer departs
/// from DESIGN.md's canonical form in a way the document allows), which
/// one was taken — shown by `--verbose`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// The reading taken (the one counted in reports).
    pub observed: Observed,
    /// Other outcomes the document allows this answer to mean; an
    /// expectation of any of them holds too.
    pub also: Vec<OutcomeKind>,
    /// How the answer was read, when that is not the one obvious way.
    pub reading: Option<String>,
}

impl Classified {
    /// The one reading the document allows.
    pub fn plain(observed: Observed) -> Classified {
        Classified {
            observed,
            also: Vec::new(),
            reading: None,
        }
    }

    /// Said how it was read.
    pub(crate) fn noted(observed: Observed, reading: impl Into<String>) -> Classified {
        Classified {
            observed,
            also: Vec::new(),
            reading: Some(reading.into()),
        }
    }

    /// Also readable as these outcomes.
    pub(crate) fn or(mut self, also: &[OutcomeKind]) -> Classified {
        let taken = self.observed.kind();
        self.also
            .extend(also.iter().copied().filter(|kind| *kind != taken));
        self
    }

    /// Whether `kind` is the reading taken or one of the others.
    pub fn admits(&self, kind: OutcomeKind) -> bool {
        self.observed.kind() == kind || self.also.contains(&kind)
    }
}

impl From<Observed> for Classified {
    fn from(observed: Observed) -> Self {
        Classified::plain(observed)
    }
}

/// What an error status means by HTTP alone, for an answer whose
/// document fixes its status but not its text: the reading taken for
/// `operation` and the others it may mean. `None` for a status that means
/// none of the outcomes.
pub(crate) fn by_status(
    operation: Operation,
    status: u16,
) -> Option<(OutcomeKind, &'static [OutcomeKind])> {
    use OutcomeKind as K;
    let verify = operation == Operation::Verify;
    Some(match status {
        400 if verify => (
            K::InvalidInput,
            &[K::WrongCode, K::Expired, K::NotFound, K::AttemptsExceeded],
        ),
        400 if !verify => (K::InvalidInput, &[]),
        422 if !verify => (K::InvalidInput, &[K::RateLimited, K::ProviderUnavailable]),
        422 => (
            K::InvalidInput,
            &[K::WrongCode, K::Expired, K::NotFound, K::AttemptsExceeded],
        ),
        401 => (K::Unauthorized, &[]),
        403 => (K::Forbidden, &[K::Unauthorized]),
        404 => (K::NotFound, &[]),
        410 => (K::Expired, &[]),
        415 => (K::UnsupportedMediaType, &[]),
        429 if verify => (K::AttemptsExceeded, &[K::RateLimited]),
        429 => (K::RateLimited, &[]),
        500 => (K::InternalError, &[]),
        502..=504 if verify => (K::StoreUnavailable, &[K::InternalError]),
        502..=504 => (
            K::ProviderUnavailable,
            &[K::StoreUnavailable, K::InternalError],
        ),
        _ => return None,
    })
}

/// A request that cannot be built from what was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The operation lacks something this dialect needs.
    Missing(&'static str),
    /// A response to an auxiliary request (a token fetch) was not usable.
    BadResponse(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Missing(what) => write!(f, "missing {what}"),
            ClientError::BadResponse(why) => write!(f, "unusable response: {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// A string member, or `None` when absent or not a string.
pub(crate) fn text<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    object.get(name).and_then(Value::as_str)
}

/// Whether `object[name]` is exactly `value`.
pub(crate) fn is(object: &Map<String, Value>, name: &str, value: Value) -> bool {
    object.get(name) == Some(&value)
}

/// A whole non-negative number that fits a `u32`.
pub(crate) fn count(value: &Value) -> Option<u32> {
    value.as_u64().and_then(|n| u32::try_from(n).ok())
}

/// `Authorization: Bearer <token>`.
pub(crate) fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

impl Credentials {
    /// The values that must never reach a report: every credential long
    /// enough to mask (ids such as `shop_id` and `widget_id` are not
    /// secret).
    fn secrets(&self) -> impl Iterator<Item = &str> {
        [
            self.bearer.as_str(),
            self.shop_secret.as_str(),
            self.bundle_key.as_str(),
            self.basic.as_str(),
            self.api_key.as_str(),
        ]
        .into_iter()
        .filter(|s| s.len() >= 4)
    }

    /// `text` with every credential written as `***`, wherever it stands
    /// (a URL, a header, a body).
    pub fn mask_credentials(&self, text: &str) -> String {
        self.secrets()
            .fold(text.to_string(), |text, secret| text.replace(secret, "***"))
    }

    /// A header as reports show it: `Authorization` keeps only its
    /// scheme (`Bearer ***`), any other header has the credentials masked.
    pub fn masked_header(&self, name: &str, value: &str) -> String {
        if name.eq_ignore_ascii_case("authorization") {
            authorization_scheme_only(value)
        } else {
            self.mask_credentials(value)
        }
    }
}

/// An `Authorization` value with only its scheme shown: `Bearer ***`.
pub fn authorization_scheme_only(value: &str) -> String {
    format!("{} ***", value.split(' ').next().unwrap_or(""))
}

/// A code of the same shape as `code` that is not `code`: its last
/// character moved on within its class (`0`–`9`, `a`–`z`, `A`–`Z`), so
/// a wrong code is never right by chance and keeps the length and
/// alphabet a dialect checks first.
pub fn wrong_code(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    match chars.last_mut() {
        Some(last) => {
            *last = match *last {
                '0'..='8' | 'a'..='y' | 'A'..='Y' => (*last as u8 + 1) as char,
                '9' => '0',
                'z' => 'a',
                'Z' => 'A',
                _ => '0',
            }
        }
        None => chars.push('0'),
    }
    chars.into_iter().collect()
}

/// The `n`th phone number of `dialect`'s form: North American numbers
/// (`+1415` and seven digits, a space of 10^7; digits only where the
/// dialect writes them so), and for Valify Egyptian mobiles (`010` and
/// eight digits).
pub fn phone(dialect: Dialect, n: u64) -> String {
    match dialect {
        Dialect::Valify => format!("010{:08}", n % phone_space(dialect)),
        Dialect::Rees46 | Dialect::Nomado => format!("1415{:07}", n % phone_space(dialect)),
        _ => format!("+1415{:07}", n % phone_space(dialect)),
    }
}

/// How many distinct numbers [`phone`] writes for `dialect` before it
/// repeats: the most recipients a load run's pool can hold.
pub fn phone_space(dialect: Dialect) -> u64 {
    match dialect {
        Dialect::Valify => 100_000_000,
        _ => 10_000_000,
    }
}

/// The `n`th e-mail address (any dialect): `otp-<48-bit hex>@example.com`.
pub fn email(n: u64) -> String {
    format!("otp-{:012x}@example.com", n % (1 << 48))
}

/// The alphabet and length of the code a send makes: what the request
/// names (Nomado's `code_type` and `code_length`), else the target's
/// policy — the policy the target file gives, or the dialect's
/// documented one.
pub fn code_shape(
    policy: &Policy,
    alphabet: Option<Alphabet>,
    length: Option<u8>,
) -> (Alphabet, u8) {
    (
        alphabet.unwrap_or(policy.alphabet),
        length.unwrap_or(policy.length),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_auth_map_keeps_the_test_defaults_it_does_not_name() {
        let credentials: Credentials =
            serde_yaml::from_str("{bearer: prod, widget_id: d385ab22-0f51-4b97-9ecd-b8ff3fd4fcb6}")
                .unwrap();
        assert_eq!(credentials.bearer, "prod");
        assert_eq!(
            credentials.widget_id,
            "d385ab22-0f51-4b97-9ecd-b8ff3fd4fcb6"
        );
        assert_eq!(credentials.shop_id, crate::config::DEFAULT_SHOP_ID);
        let typo = serde_yaml::from_str::<Credentials>("{bearr: x}").unwrap_err();
        assert!(typo.to_string().contains("unknown field `bearr`"), "{typo}");
    }

    #[test]
    fn retry_after_is_read_in_whole_seconds() {
        let mut headers = HeaderMap::new();
        let response = |headers: &HeaderMap| {
            WireResponse {
                status: 429,
                headers,
                body: b"{}",
            }
            .retry_after()
        };
        assert_eq!(response(&headers), None);
        headers.insert(RETRY_AFTER, "17".parse().unwrap());
        assert_eq!(response(&headers), Some(Duration::from_secs(17)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(response(&headers), None);
    }

    #[test]
    fn a_wrong_code_differs_in_its_last_character_only() {
        assert_eq!(wrong_code("012345"), "012346");
        assert_eq!(wrong_code("012349"), "012340");
        assert_eq!(wrong_code("aBz"), "aBa");
        assert_eq!(wrong_code("aBZ"), "aBA");
        assert_eq!(wrong_code(""), "0");
    }

    #[test]
    fn recipients_take_the_dialects_form() {
        assert_eq!(phone(Dialect::Native, 42), "+14150000042");
        assert_eq!(phone(Dialect::Rees46, 10_000_042), "14150000042");
        assert_eq!(phone(Dialect::Valify, 42), "01000000042");
        assert_eq!(email(0x2a), "otp-00000000002a@example.com");
    }

    #[test]
    fn every_number_of_the_space_is_a_possible_one() {
        for dialect in [Dialect::Native, Dialect::Rees46, Dialect::Sigmasms] {
            let space = phone_space(dialect);
            for n in [0, 1, space / 2, space - 1] {
                let number = phone(dialect, n);
                assert!(
                    crate::engine::identifier::Identifier::parse(&number).is_ok(),
                    "{number}"
                );
            }
            assert_eq!(phone(dialect, space), phone(dialect, 0), "wraps");
        }
        for n in [0, 1, phone_space(Dialect::Valify) - 1] {
            let number = phone(Dialect::Valify, n);
            assert!(
                crate::dialect::egyptian_mobile(&number).is_some(),
                "{number}"
            );
        }
    }

    #[test]
    fn credentials_are_masked_and_authorization_keeps_its_scheme() {
        let credentials = Credentials {
            bearer: "s3cret-token".into(),
            ..Credentials::default()
        };
        assert_eq!(
            credentials.mask_credentials("/x?t=s3cret-token&y=1"),
            "/x?t=***&y=1"
        );
        assert_eq!(
            credentials.masked_header("authorization", "Bearer s3cret-token"),
            "Bearer ***"
        );
        assert_eq!(credentials.masked_header("X-Token", "s3cret-token"), "***");
    }

    #[test]
    fn the_code_shape_is_the_requests_else_the_policys() {
        let policy = Policy::default();
        assert_eq!(
            code_shape(&policy, None, None),
            (policy.alphabet, policy.length)
        );
        assert_eq!(
            code_shape(&policy, Some(Alphabet::Alpha), Some(8)),
            (Alphabet::Alpha, 8)
        );
    }
}
