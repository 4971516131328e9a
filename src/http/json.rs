//! JSON on the wire: building a JSON response, and telling whether a
//! request says its body is JSON.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{HeaderMap, Response, StatusCode};
use serde::Serialize;

/// A value as JSON bytes (`{}` in the impossible case that it cannot be
/// serialised: every body type here is plain data).
pub(crate) fn to_bytes(body: &impl Serialize) -> Bytes {
    Bytes::from(serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()))
}

/// A JSON response with this status and content type.
pub(crate) fn response(
    status: StatusCode,
    content_type: &'static str,
    body: &impl Serialize,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(to_bytes(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Whether the request says its body is JSON (`application/json` or
/// `application/*+json`, parameters allowed).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > 17
            && essence[..12].eq_ignore_ascii_case("application/")
            && essence[essence.len() - 5..].eq_ignore_ascii_case("+json"))
}

/// Whether the request's content type is `application/json` itself
/// (parameters allowed), not merely a JSON-based type: what a vendor that
/// names `application/json` alone takes.
pub(crate) fn is_application_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_are_recognised() {
        let mut headers = HeaderMap::new();
        for (value, json) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/problem+json", true),
            ("text/plain", false),
            ("application/jsonx", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_json(&headers), json, "{value}");
            let plain = json && !value.contains('+');
            assert_eq!(is_application_json(&headers), plain, "{value}");
        }
        headers.clear();
        assert!(!is_json(&headers));
    }
}
