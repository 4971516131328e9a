//! Valify (seed 002, DESIGN.md §3 "valify") in the independent service:
//! `POST /api/v1/otp/send/` and `/verify/`, a bearer token and a bundle
//! key, Egyptian mobiles only, `{"message"}` errors and 422 with Valify's
//! `error_code`s. Checks run: route, media type, token, body, bundle key,
//! fields. The body may come wrapped as `{"data": {…}}`.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::http::{text, Body, Call, Reply};
use super::ledger::{Checked, Desk, LedgerGone, Lookup};
use super::otp::{self, Alphabet, Dispatch, Sent};
use super::{recipient, Service};

const TOKEN: &str = "test-token";
const BUNDLE_KEY: &str = "test-bundle";

/// The seed's texts.
const BAD_REQUEST: &str = "Bad Request – invalid request received (e.g. missing Bundle key, required parameters or invalid json) | Make sure all the required parameters are included";
const BAD_BUNDLE: &str = "Unauthorized – your Bundle key is invalid";
const BAD_TOKEN: &str = "Forbidden – specified access_token could not be found";

fn message(status: u16, text: &str) -> Reply {
    Reply::json(status, json!({"message": text}))
}

fn domain(code: u16, text: &str) -> Reply {
    Reply::json(422, json!({"message": text, "error_code": code}))
}

pub(super) async fn answer(service: &Service, call: Call) -> Reply {
    let verifying = match (call.is_post(), call.path.trim_end_matches('/')) {
        (true, "/api/v1/otp/send") => false,
        (true, "/api/v1/otp/verify") => true,
        _ => return message(404, "Not Found"),
    };
    if !call.says_json() {
        return message(415, "Unsupported Media Type");
    }
    if call.bearer() != Some(TOKEN) {
        return message(403, BAD_TOKEN);
    }
    let body = match call.json() {
        Body::Object(mut body) => match body.remove("data") {
            Some(Value::Object(inner)) => inner,
            Some(_) => return message(400, BAD_REQUEST),
            None => body,
        },
        _ => return message(400, BAD_REQUEST),
    };
    match text(&body, "bundle_key") {
        Ok(Some(BUNDLE_KEY)) => {}
        Ok(Some(_)) => return message(401, BAD_BUNDLE),
        _ => return message(400, BAD_REQUEST),
    }
    let answered = if verifying {
        verify(service, &body).await
    } else {
        send(service, &body).await
    };
    answered.unwrap_or_else(|LedgerGone| message(500, "Internal Server Error"))
}

async fn send(service: &Service, body: &Map<String, Value>) -> Result<Reply, LedgerGone> {
    let phone = match text(body, "phone_number") {
        Ok(Some(p)) => p,
        _ => return Ok(message(400, BAD_REQUEST)),
    };
    let arabic = match text(body, "lang") {
        Ok(None | Some("en")) => false,
        Ok(Some("ar")) => true,
        _ => return Ok(message(400, BAD_REQUEST)),
    };
    let Some(to) = recipient::egyptian_mobile(phone) else {
        return Ok(domain(
            1001,
            "The phone number is not a valid Egyptian mobile number",
        ));
    };
    let text = move |code: &str| match arabic {
        true => format!("رمز التحقق الخاص بك هو {code}"),
        false => format!("Your Valify verification code is {code}"),
    };
    let sent = otp::send(
        service,
        Dispatch {
            desk: Desk::Valify,
            to: &to,
            purpose: "otp",
            alphabet: Alphabet::Digits,
            length: 6,
            terms: otp::standard_terms(),
            channels: &["sms"],
            text: &text,
        },
    )
    .await?;
    Ok(match sent {
        Sent::Delivered {
            handle, sends_left, ..
        } => Reply::json(
            200,
            json!({"result": {"success": true}, "transaction_id": handle.to_string(), "trials_remaining": sends_left}),
        ),
        Sent::Limited { .. } => domain(
            1002,
            "Maximum number of OTP requests reached, try again later",
        ),
        Sent::Undelivered => domain(1007, "The OTP could not be delivered"),
    })
}

async fn verify(service: &Service, body: &Map<String, Value>) -> Result<Reply, LedgerGone> {
    let (Ok(Some(transaction)), Ok(Some(otp_text))) =
        (text(body, "transaction_id"), text(body, "otp"))
    else {
        return Ok(message(400, BAD_REQUEST));
    };
    // An id we could never have issued is as unknown as an old one.
    let Ok(handle) = Uuid::parse_str(transaction) else {
        return Ok(domain(1006, "Unknown transaction"));
    };
    let lookup = Lookup::Handle {
        handle,
        to: None,
        purpose: None,
    };
    Ok(
        match otp::verify(service, Desk::Valify, lookup, otp_text).await? {
            Checked::Verified => Reply::json(
                200,
                json!({"result": {"verified": true}, "transaction_id": transaction}),
            ),
            Checked::Wrong { .. } => domain(1003, "Invalid OTP"),
            Checked::Expired => domain(1004, "The OTP has expired"),
            Checked::Exhausted { .. } => domain(1005, "Maximum verification attempts exceeded"),
            Checked::Missing => domain(1006, "Unknown transaction"),
        },
    )
}
