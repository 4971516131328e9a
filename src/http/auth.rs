//! Reading `Authorization` headers and comparing secrets: the bearer and
//! Basic schemes (case-insensitive, as RFC 9110 says), and a
//! constant-time equality for anything a client proves it knows.

use base64::Engine as _;
use hyper::header::AUTHORIZATION;
use hyper::HeaderMap;

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let (scheme, token) = credentials(headers)?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

/// The decoded `user:password` of `Authorization: Basic <base64>` (Nomado's
/// docs write the scheme `BASIC`).
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<String> {
    let (scheme, encoded) = credentials(headers)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    String::from_utf8(decoded).ok()
}

/// The scheme and the credentials of the `Authorization` header.
fn credentials(headers: &HeaderMap) -> Option<(&str, &str)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    Some((scheme, rest.trim()))
}

/// Constant-time equality for secrets from requests.
pub(crate) fn secret_eq(given: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
    }

    #[test]
    fn basic_credentials_are_decoded() {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("BASIC dGVzdDp0ZXN0"),
        );
        assert_eq!(basic_credentials(&headers).as_deref(), Some("test:test"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic_credentials(&headers), None);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(secret_eq("test-token", "test-token"));
        assert!(!secret_eq("test-toke", "test-token"));
        assert!(!secret_eq("", "x"));
    }
}
