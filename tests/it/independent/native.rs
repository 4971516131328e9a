//! The native dialect (DESIGN.md §3 "native") of the independent
//! service: `POST /v1/otp/send` and `POST /v1/otp/verify` behind a bearer
//! token, RFC 9457 problems for every refusal. Checks run in this order:
//! route, media type, token, body, fields. Only wording is chosen here;
//! the OTP decisions are the ledger's.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::http::{text, Body, Call, Reply};
use super::ledger::{Checked, Desk, LedgerGone, Lookup};
use super::otp::{self, Alphabet, Dispatch, Sent};
use super::recipient::{self, Recipient};
use super::Service;

const TOKEN: &str = "test-token";

/// The purpose of a send or verify that names none: empty, so that no
/// named purpose can share its challenge.
const NO_PURPOSE: &str = "";

/// One refusal: its outcome (the `type` suffix), status and title.
type Problem = (&'static str, u16, &'static str);

const INVALID: Problem = ("invalid-input", 400, "The request cannot be used");
const UNAUTHORIZED: Problem = ("unauthorized", 401, "Bearer token missing or not accepted");
const NOT_FOUND: Problem = ("not-found", 404, "No code is waiting for this");
const EXPIRED: Problem = ("expired", 410, "This code is too old");
const MEDIA: Problem = ("unsupported-media-type", 415, "Send the body as JSON");
const WRONG: Problem = ("wrong-code", 422, "That is not the code");
const EXHAUSTED: Problem = ("attempts-exceeded", 429, "Out of tries for this code");
const LIMITED: Problem = ("rate-limited", 429, "Too many codes sent to this recipient");
const UNDELIVERED: Problem = ("provider-unavailable", 503, "The code was not delivered");
const GONE: Problem = ("store-unavailable", 503, "State is unavailable");

fn problem(kind: Problem, detail: impl Into<String>) -> Reply {
    problem_with(kind, detail, &[])
}

fn problem_with(kind: Problem, detail: impl Into<String>, extra: &[(&str, Value)]) -> Reply {
    let (outcome, status, title) = kind;
    let mut body = json!({
        "type": format!("urn:otpbench:{outcome}"),
        "title": title,
        "status": status,
        "detail": detail.into(),
    });
    for (name, value) in extra {
        body[*name] = value.clone();
    }
    Reply::json(status, body).content_type("application/problem+json")
}

pub(super) async fn answer(service: &Service, call: Call) -> Reply {
    let verifying = match (call.is_post(), call.path.as_str()) {
        (true, "/v1/otp/send") => false,
        (true, "/v1/otp/verify") => true,
        _ => {
            return problem(
                NOT_FOUND,
                format!("there is no {} {}", call.method, call.path),
            )
        }
    };
    if !call.says_json() {
        return problem(MEDIA, "the Content-Type must be application/json");
    }
    if call.bearer() != Some(TOKEN) {
        return problem(UNAUTHORIZED, "give `Authorization: Bearer <token>`");
    }
    let body = match call.json() {
        Body::Object(body) => body,
        Body::Other(_) => return problem(INVALID, "the body must be a JSON object"),
        Body::Broken(e) => return problem(INVALID, format!("the body is not JSON: {e}")),
    };
    let answered = if verifying {
        verify(service, &body).await
    } else {
        send(service, &body).await
    };
    answered.unwrap_or_else(|LedgerGone| problem(GONE, "try again later"))
}

/// `purpose`, if given, must be `[a-z0-9_]{1,64}`.
fn purpose(body: &Map<String, Value>) -> Result<String, Reply> {
    match text(body, "purpose") {
        Ok(None) => Ok(NO_PURPOSE.to_string()),
        Ok(Some(p))
            if (1..=64).contains(&p.len())
                && p.bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_')) =>
        {
            Ok(p.to_string())
        }
        _ => Err(problem(
            INVALID,
            "`purpose` must be 1 to 64 of a-z, 0-9 and _",
        )),
    }
}

fn recipient_of(body: &Map<String, Value>) -> Result<Recipient, Reply> {
    match text(body, "to") {
        Ok(Some(to)) => recipient::phone_or_email(to).ok_or_else(|| {
            problem(
                INVALID,
                "`to` is neither a possible phone number nor an e-mail address",
            )
        }),
        _ => Err(problem(
            INVALID,
            "`to` is required: a phone number or an e-mail address",
        )),
    }
}

async fn send(service: &Service, body: &Map<String, Value>) -> Result<Reply, LedgerGone> {
    let to = match recipient_of(body) {
        Ok(to) => to,
        Err(reply) => return Ok(reply),
    };
    let purpose = match purpose(body) {
        Ok(p) => p,
        Err(reply) => return Ok(reply),
    };
    // A phone takes the messaging channels, an address only e-mail.
    let channel = match (text(body, "channel"), &to) {
        (Ok(None), Recipient::Phone(_)) => "sms",
        (Ok(None), Recipient::Email(_)) => "email",
        (Ok(Some(c @ ("sms" | "whatsapp" | "telegram" | "max"))), Recipient::Phone(_)) => c,
        (Ok(Some("email")), Recipient::Email(_)) => "email",
        _ => {
            return Ok(problem(
                INVALID,
                "`channel` must be sms, whatsapp, telegram or max for a phone number, email for an address",
            ))
        }
    };
    let terms = otp::standard_terms();
    let (ttl_s, attempts) = (terms.ttl_ms / 1000, terms.attempts);
    let sent = otp::send(
        service,
        Dispatch {
            desk: Desk::Native,
            to: to.text(),
            purpose: &purpose,
            alphabet: Alphabet::Digits,
            length: 6,
            terms,
            channels: &[channel],
            text: &|code| format!("{code} is your one-time code. It works once, for 5 minutes."),
        },
    )
    .await?;
    Ok(match sent {
        Sent::Delivered {
            handle, sends_left, ..
        } => Reply::json(
            200,
            json!({"id": handle.to_string(), "expires_in": ttl_s, "attempts_remaining": attempts, "sends_remaining": sends_left}),
        ),
        Sent::Limited { retry_after_ms } => {
            let seconds = otp::seconds_up(retry_after_ms);
            problem_with(
                LIMITED,
                format!("no more codes to {} for now", to.text()),
                &[("retry_after", json!(seconds))],
            )
            .header("retry-after", seconds.to_string())
        }
        Sent::Undelivered => problem(
            UNDELIVERED,
            format!("no {channel} message reached {}", to.text()),
        ),
    })
}

async fn verify(service: &Service, body: &Map<String, Value>) -> Result<Reply, LedgerGone> {
    let code = match text(body, "code") {
        Ok(Some(code)) if !code.is_empty() && code.len() <= 64 => code,
        _ => {
            return Ok(problem(
                INVALID,
                "`code` is required: the code that was sent",
            ))
        }
    };
    let lookup = match text(body, "id") {
        Ok(Some(id)) => {
            let Ok(handle) = Uuid::parse_str(id) else {
                return Ok(problem(INVALID, "`id` is not a UUID"));
            };
            // `to` and `purpose` beside an id narrow it: another
            // recipient's id finds nothing.
            let to = match body.contains_key("to") {
                true => match recipient_of(body) {
                    Ok(to) => Some(to.text().to_string()),
                    Err(reply) => return Ok(reply),
                },
                false => None,
            };
            let purpose = match body.contains_key("purpose") {
                true => match purpose(body) {
                    Ok(p) => Some(p),
                    Err(reply) => return Ok(reply),
                },
                false => None,
            };
            Lookup::Handle {
                handle,
                to,
                purpose,
            }
        }
        Ok(None) => {
            let to = match recipient_of(body) {
                Ok(to) => to,
                Err(_) => {
                    return Ok(problem(
                        INVALID,
                        "give `id`, or `to` (and `purpose`) of the send",
                    ))
                }
            };
            let purpose = match purpose(body) {
                Ok(p) => p,
                Err(reply) => return Ok(reply),
            };
            Lookup::Key {
                to: to.text().to_string(),
                purpose,
            }
        }
        Err(()) => return Ok(problem(INVALID, "`id` must be a string")),
    };
    Ok(
        match otp::verify(service, Desk::Native, lookup, code).await? {
            Checked::Verified => Reply::json(200, json!({"verified": true})),
            Checked::Wrong { attempts_left } => problem_with(
                WRONG,
                format!("{attempts_left} tries left"),
                &[("attempts_remaining", json!(attempts_left))],
            ),
            Checked::Expired => problem(EXPIRED, "ask for a new code"),
            Checked::Exhausted { expires_in_ms } => problem_with(
                EXHAUSTED,
                "ask for a new code",
                &[("attempts_remaining", json!(0))],
            )
            .header("retry-after", otp::seconds_up(expires_in_ms).to_string()),
            Checked::Missing => problem(
                NOT_FOUND,
                "no active code matches; it may have been used already",
            ),
        },
    )
}
