//! The requests of send, verify and http steps: rendered once from the
//! step's templates ([`Prepared`]), then carried out once, in a row, or
//! all at once ([`execute`], [`run_parallel`]), each run kept as a
//! [`Run`] — what went out and what came back — and shown in reports
//! with the target's secrets masked ([`masked`]).

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;

use crate::client::{CallError, Called, Exchange, RequestLog, Target, TargetSpec};
use crate::delivery::Channel;
use crate::dialect::{Classified, Dialect, Operation, SendOp, VerifyOp};
use crate::engine::code::Alphabet;
use crate::engine::outcome::{Observed, OutcomeKind};
use crate::scenario::expect::Got;
use crate::scenario::model::{HttpArgs, SendArgs};
use crate::scenario::template::{Lookup, Template};

/// One rendered request of a step.
#[derive(Debug, Clone)]
pub(crate) enum Prepared {
    Send(SendOp),
    Verify(VerifyOp),
    Http {
        method: Method,
        path: String,
        headers: Vec<(String, String)>,
        body: Bytes,
    },
}

/// The result of one run.
pub(crate) struct Run {
    pub request: RequestLog,
    pub result: Result<(Exchange, Option<Observed>), CallError>,
    /// Other outcomes the vendor document lets the answer mean, and how
    /// it was read (the dialect's [`crate::dialect::Classified`]).
    pub also: Vec<OutcomeKind>,
    pub reading: Option<String>,
    /// When the answer was complete (runs of a parallel step are ordered
    /// by it).
    pub finished: Instant,
}

impl Run {
    /// What the run got, for judging. `None` for a failure that is not
    /// the target's (a request that could not be built, a hook).
    pub fn got(&self) -> Option<Got<'_>> {
        match &self.result {
            Ok((exchange, observed)) => Some(Got::Answer {
                exchange,
                observed: observed.as_ref(),
                also: &self.also,
            }),
            Err(CallError::Transport(error)) => Some(Got::Failed(error)),
            Err(_) => None,
        }
    }

    /// The receipt, if the run was an accepted send.
    pub fn receipt(&self) -> Option<&crate::engine::outcome::Receipt> {
        match &self.result {
            Ok((_, Some(Observed::Sent(receipt)))) => Some(receipt),
            _ => None,
        }
    }
}

/// Renders `template` or says why it cannot be.
pub(crate) fn text(
    template: &Option<Template>,
    lookup: &dyn Lookup,
) -> Result<Option<String>, String> {
    template.as_ref().map(|t| t.text(lookup)).transpose()
}

/// The abstract send a step's arguments describe; `to` is already known.
pub(crate) fn send_op(args: &SendArgs, to: String, lookup: &dyn Lookup) -> Result<SendOp, String> {
    let channel = text(&args.channel, lookup)?
        .map(|name| channel(&name))
        .transpose()?;
    let alphabet = text(&args.code_type, lookup)?
        .map(|name| alphabet(&name))
        .transpose()?;
    let length = args
        .length
        .as_ref()
        .map(|t| t.number(lookup).and_then(length))
        .transpose()?;
    let expiry = text(&args.expiry, lookup)?
        .map(|text| expiry(&text))
        .transpose()?;
    Ok(SendOp {
        to,
        purpose: text(&args.purpose, lookup)?,
        channel,
        alphabet,
        length,
        expiry,
        template: text(&args.template, lookup)?,
        lang: text(&args.lang, lookup)?,
    })
}

/// A send's `channel`.
pub(crate) fn channel(name: &str) -> Result<Channel, String> {
    Channel::from_name(name).ok_or_else(|| format!("unknown channel `{name}`"))
}

/// A send's `type` (Nomado).
pub(crate) fn alphabet(name: &str) -> Result<Alphabet, String> {
    alphabet_named(name)
        .ok_or_else(|| format!("`type: {name}`: expected NUMERIC, ALPHA or ALPHANUMERIC"))
}

/// A send's `length`.
pub(crate) fn length(n: u64) -> Result<u8, String> {
    u8::try_from(n).map_err(|_| format!("`length: {n}` is too long"))
}

/// A send's `expiry`: seconds, or a duration.
pub(crate) fn expiry(text: &str) -> Result<Duration, String> {
    match text.parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => crate::duration::parse(text).map_err(|e| format!("`expiry: {text}`: {e}")),
    }
}

fn alphabet_named(name: &str) -> Option<Alphabet> {
    match name.to_ascii_uppercase().as_str() {
        "NUMERIC" => Some(Alphabet::Numeric),
        "ALPHA" => Some(Alphabet::Alpha),
        "ALPHANUMERIC" => Some(Alphabet::Alphanumeric),
        _ => None,
    }
}

/// An http step's method.
pub(crate) fn method(name: &str) -> Result<Method, String> {
    Method::from_str(&name.to_ascii_uppercase())
        .map_err(|_| format!("`method: {name}` is not an HTTP method (GET, POST, PUT, …)"))
}

/// An http step's path: from the root of the target's `base_url`.
pub(crate) fn path(path: &str) -> Result<(), String> {
    if path.starts_with("http://") || path.starts_with("https://") {
        return Err(format!(
            "`path: {path}` is a URL; an http step's path is relative to the target's \
             base_url: write it from its first `/`"
        ));
    }
    if !path.starts_with('/') {
        return Err(format!("`path: {path}` must start with /"));
    }
    if path.contains(char::is_whitespace) {
        return Err(format!("`path: {path}` holds a space; write it as %20"));
    }
    path.parse::<hyper::Uri>()
        .map(|_| ())
        .map_err(|e| format!("`path: {path}` is not a request path: {e}"))
}

/// The largest `repeat` or `parallel`.
pub(crate) const MAX_RUNS: u64 = 10_000;

/// The raw request an http step describes (`auth` headers given).
pub(crate) fn http(
    args: &HttpArgs,
    auth: Vec<(String, String)>,
    lookup: &dyn Lookup,
) -> Result<Prepared, String> {
    let method = method(&args.method)?;
    let path = args.path.text(lookup)?;
    self::path(&path)?;
    let mut headers = auth;
    for (name, value) in &args.headers {
        headers.push((name.clone(), value.text(lookup)?));
    }
    let body = match (&args.body, &args.json) {
        (Some(_), Some(_)) => return Err("an http step takes `body` or `json`, not both".into()),
        (Some(body), None) => Bytes::from(body.text(lookup)?),
        (None, Some(json)) => {
            if !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("Content-Type".into(), "application/json".into()));
            }
            Bytes::from(json.render(lookup)?.to_string())
        }
        (None, None) => Bytes::new(),
    };
    Ok(Prepared::Http {
        method,
        path,
        headers,
        body,
    })
}

/// Carries out one run.
pub(crate) async fn execute(target: &Arc<Target>, prepared: &Prepared) -> Run {
    let run = |request: RequestLog, result: Result<(Exchange, Option<Classified>), CallError>| {
        let (result, also, reading) = match result {
            Ok((exchange, Some(read))) => {
                (Ok((exchange, Some(read.observed))), read.also, read.reading)
            }
            Ok((exchange, None)) => (Ok((exchange, None)), Vec::new(), None),
            Err(error) => (Err(error), Vec::new(), None),
        };
        Run {
            request,
            result,
            also,
            reading,
            finished: Instant::now(),
        }
    };
    match prepared {
        Prepared::Send(op) => called(target.send(op).await),
        Prepared::Verify(op) => called(target.verify(op).await),
        Prepared::Http {
            method,
            path,
            headers,
            body,
        } => {
            let request = RequestLog {
                method: method.to_string(),
                url: target.base().join(path),
                headers: headers.clone(),
                body: body.clone(),
            };
            let result = target
                .raw(method.clone(), path, headers, body.clone())
                .await
                .map(|exchange| {
                    let observed = classify_raw(target.dialect(), path, &exchange);
                    (exchange, observed)
                });
            run(request, result)
        }
    }
}

/// A raw answer read by the dialect, when the path is one of its send or
/// verify routes.
fn classify_raw(dialect: Dialect, path: &str, exchange: &Exchange) -> Option<Classified> {
    let path = path.split('?').next().unwrap_or(path);
    match Dialect::route(path) {
        Some((owner, operation @ (Operation::Send | Operation::Verify))) if owner == dialect => {
            Some(dialect.read(operation, &exchange.response()))
        }
        _ => None,
    }
}

fn called(result: Result<Called, CallError>) -> Run {
    let finished = Instant::now();
    match result {
        Ok(called) => Run {
            request: called.request,
            result: Ok((called.exchange, Some(called.observed))),
            also: called.also,
            reading: called.reading,
            finished,
        },
        Err(error) => Run {
            request: RequestLog::default(),
            result: Err(error),
            also: Vec::new(),
            reading: None,
            finished,
        },
    }
}

/// `n` runs at once: spawned, then released together by a barrier;
/// returned in the order they finished.
pub(crate) async fn run_parallel(target: &Arc<Target>, prepared: &Prepared, n: usize) -> Vec<Run> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (target, prepared, barrier) = (target.clone(), prepared.clone(), barrier.clone());
        tasks.spawn(async move {
            barrier.wait().await;
            execute(&target, &prepared).await
        });
    }
    let mut runs = Vec::with_capacity(n);
    while let Some(joined) = tasks.join_next().await {
        runs.push(joined.unwrap_or_else(|e| Run {
            request: RequestLog::default(),
            result: Err(CallError::Hook(format!("a parallel run panicked: {e}"))),
            also: Vec::new(),
            reading: None,
            finished: Instant::now(),
        }));
    }
    runs.sort_by_key(|run| run.finished);
    runs
}

/// The request as reports may show it: the target's secrets masked
/// wherever they stand (URL, headers, body).
pub(crate) fn masked(request: &RequestLog, spec: &TargetSpec) -> RequestLog {
    let credentials = &spec.credentials;
    RequestLog {
        method: request.method.clone(),
        url: credentials.mask_credentials(&request.url),
        headers: request
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), credentials.masked_header(name, value)))
            .collect(),
        body: credentials
            .mask_credentials(&String::from_utf8_lossy(&request.body))
            .into(),
    }
}

/// The answer as reports may show it: the same secrets masked, through
/// the same path as a request's ([`masked`]), so whatever that masks an
/// answer that echoes it does not show either.
pub(crate) fn masked_answer(answer: &Exchange, spec: &TargetSpec) -> Exchange {
    let as_log = RequestLog {
        method: String::new(),
        url: String::new(),
        headers: answer
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.to_string(), value)
            })
            .collect(),
        body: answer.body.clone(),
    };
    let shown = masked(&as_log, spec);
    let mut headers = hyper::HeaderMap::new();
    for (name, value) in shown.headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    Exchange {
        status: answer.status,
        headers,
        body: shown.body,
        elapsed: answer.elapsed,
    }
}
