//! A Twilio-compatible `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
//! so a service that sends SMS with an official Twilio library can be
//! pointed at the mock provider by changing one base URL.
//!
//! It takes what the libraries send — form-encoded `To`, `From` (or
//! `MessagingServiceSid`) and `Body`, HTTP Basic auth with the account SID
//! as user name — and answers 201 with the fields they read (`sid`,
//! `status`, `to`, `from`, `body`, `date_created`, …). `To` of the form
//! `whatsapp:+1…` goes to the `whatsapp` channel, anything else to `sms`.
//! Errors use Twilio's shape `{"code", "message", "more_info", "status"}`
//! with its codes (20003 authentication, 21604 no `To`, 21602 no `Body`).
//! Fault rules apply as on `/v1/messages`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{HeaderMap, Response, StatusCode};
use serde::Serialize;
use serde_json::json;

use crate::delivery::{Channel, Message};
use crate::http::auth::basic_credentials;
use crate::provider::{accept, json, Accepted, NoAnswer, State};

const PREFIX: &str = "/2010-04-01/Accounts/";
const SUFFIX: &str = "/Messages.json";

/// The account SID of a Messages path.
pub(super) fn account_of(path: &str) -> Option<&str> {
    let sid = path.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    (!sid.is_empty() && sid.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(sid)
}

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response<Full<Bytes>> {
    json(
        status,
        &json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        }),
    )
}

/// The user name of a Basic `Authorization` header.
fn basic_user(headers: &HeaderMap) -> Option<String> {
    let pair = basic_credentials(headers)?;
    let (user, password) = pair.split_once(':')?;
    (!password.is_empty()).then(|| user.to_string())
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space.
fn form_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(u8::from_str_radix(text.get(i + 1..i + 3)?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn form_field(body: &str, name: &str) -> Option<String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| form_decode(key).as_deref() == Some(name))
        .and_then(|(_, value)| form_decode(value))
}

#[derive(Serialize)]
struct MessageResource {
    account_sid: String,
    api_version: &'static str,
    body: String,
    date_created: String,
    date_sent: Option<String>,
    date_updated: String,
    direction: &'static str,
    error_code: Option<u32>,
    error_message: Option<String>,
    from: Option<String>,
    messaging_service_sid: Option<String>,
    num_media: &'static str,
    num_segments: String,
    price: Option<String>,
    price_unit: &'static str,
    sid: String,
    status: &'static str,
    subresource_uris: serde_json::Value,
    to: String,
    uri: String,
}

/// Twilio's 20003 when the Basic credentials are not the account's SID;
/// checked before the body is read.
pub(super) fn refuse_credentials(sid: &str, headers: &HeaderMap) -> Option<Response<Full<Bytes>>> {
    if basic_user(headers).as_deref() == Some(sid) {
        return None;
    }
    let mut response = twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    response.headers_mut().insert(
        "www-authenticate",
        HeaderValue::from_static("Basic realm=\"Twilio API\""),
    );
    Some(response)
}

/// A message to the account `sid`, whose credentials
/// [`refuse_credentials`] accepted.
pub(super) async fn handle(
    state: &State,
    twin: &std::net::TcpStream,
    sid: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response<Full<Bytes>>, NoAnswer> {
    let form_encoded = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let Some(body) = std::str::from_utf8(body).ok().filter(|_| form_encoded) else {
        return Ok(twilio_error(
            StatusCode::BAD_REQUEST,
            20001,
            "Expected a form-encoded body",
        ));
    };
    let Some(to) = form_field(body, "To").filter(|t| !t.trim().is_empty()) else {
        return Ok(twilio_error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        ));
    };
    let Some(text) = form_field(body, "Body").filter(|b| !b.is_empty()) else {
        return Ok(twilio_error(
            StatusCode::BAD_REQUEST,
            21602,
            "Message body is required.",
        ));
    };
    let from = form_field(body, "From");
    let messaging_service = form_field(body, "MessagingServiceSid");
    if from.is_none() && messaging_service.is_none() {
        return Ok(twilio_error(
            StatusCode::BAD_REQUEST,
            21603,
            "A 'From' phone number is required.",
        ));
    }
    let (channel, recipient) = match to.strip_prefix("whatsapp:") {
        Some(number) => (Channel::Whatsapp, number.to_string()),
        None => (Channel::Sms, to.clone()),
    };
    let message = Message {
        channel,
        to: recipient.into(),
        text: text.as_str().into(),
        from: from
            .as_deref()
            .map(|f| f.trim_start_matches("whatsapp:").into()),
    };
    match accept(state, twin, message).await? {
        Accepted::Journaled(_) | Accepted::Dropped => {}
        Accepted::Refused(response) => return Ok(response),
    }
    let message_sid = format!("SM{}", crate::provider::uuid_like().replace('-', ""));
    let now = httpdate::fmt_http_date(std::time::SystemTime::now()).replace("GMT", "+0000");
    let uri = format!("{PREFIX}{sid}/Messages/{message_sid}.json");
    let resource = MessageResource {
        account_sid: sid.to_string(),
        api_version: "2010-04-01",
        num_segments: text.chars().count().div_ceil(160).max(1).to_string(),
        body: text,
        date_created: now.clone(),
        date_sent: None,
        date_updated: now,
        direction: "outbound-api",
        error_code: None,
        error_message: None,
        from,
        messaging_service_sid: messaging_service,
        num_media: "0",
        price: None,
        price_unit: "USD",
        status: "queued",
        subresource_uris: json!({
            "media": format!("{PREFIX}{sid}/Messages/{message_sid}/Media.json"),
        }),
        sid: message_sid,
        to,
        uri,
    };
    Ok(json(StatusCode::CREATED, &resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_account() {
        assert_eq!(
            account_of("/2010-04-01/Accounts/AC123/Messages.json"),
            Some("AC123")
        );
        assert_eq!(account_of("/2010-04-01/Accounts//Messages.json"), None);
        assert_eq!(account_of("/2010-04-01/Accounts/AC1/Calls.json"), None);
    }

    #[test]
    fn form_fields_decode_like_a_browser() {
        let body = "To=%2B14155550100&From=%2B15005550006&Body=Your+code%3A+123456";
        assert_eq!(form_field(body, "To").as_deref(), Some("+14155550100"));
        assert_eq!(
            form_field(body, "Body").as_deref(),
            Some("Your code: 123456")
        );
        assert_eq!(form_field(body, "MediaUrl"), None);
    }
}
