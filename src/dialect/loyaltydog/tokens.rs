//! LoyaltyDog's access tokens: HS256 JWTs issued by `/v2/token`, checked
//! against the engine's clock (so test-mode time travel expires them) with
//! a key derived from the config's `secret` (so replicas sharing a store
//! accept each other's tokens), or a random key without one.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The key access tokens are signed and checked with.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Tokens whose signature checked out, with their expiry (seconds):
    /// a client reuses its token for every request, and the HMAC, base64
    /// and JSON of a full check cost more than the rest of a send's
    /// parsing. Cleared when full; only ever holds tokens we signed.
    verified: RwLock<HashMap<Box<str>, u64>>,
}

/// Most verified tokens remembered at once.
const VERIFIED_TOKENS: usize = 1024;

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    exp: u64,
}

impl TokenKeys {
    /// Keys derived from the server secret, or random ones without it.
    pub fn new(secret: Option<&[u8]>) -> TokenKeys {
        let key: [u8; 32] = match secret {
            Some(secret) => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
                    .expect("HMAC takes keys of any length");
                mac.update(b"otpbench loyaltydog access tokens");
                mac.finalize().into_bytes().into()
            }
            None => rand::random(),
        };
        TokenKeys {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            verified: RwLock::new(HashMap::new()),
        }
    }

    /// A token valid from `now_ms` for `ttl`.
    pub(crate) fn issue(&self, now_ms: u64, ttl: Duration) -> Option<String> {
        let iat = now_ms / 1000;
        let claims = Claims {
            sub: "api-key".into(),
            iat,
            exp: iat + ttl.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).ok()
    }

    /// Whether `token` is ours, HS256, and unexpired at `now_ms`.
    pub(crate) fn accepts(&self, token: &str, now_ms: u64) -> bool {
        let now = now_ms / 1000;
        let known = self
            .verified
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .copied();
        if let Some(exp) = known {
            return now < exp;
        }
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is judged by the engine's clock, not the system's.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let Ok(data) = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation) else {
            return false;
        };
        let mut verified = self.verified.write().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= VERIFIED_TOKENS {
            verified.clear();
        }
        verified.insert(token.into(), data.claims.exp);
        now < data.claims.exp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_by_the_given_clock() {
        let keys = TokenKeys::new(Some(b"0123456789abcdef"));
        let now = 1_700_000_000_000;
        let token = keys.issue(now, Duration::from_secs(60)).unwrap();
        assert!(keys.accepts(&token, now));
        assert!(keys.accepts(&token, now + 59_000));
        assert!(!keys.accepts(&token, now + 60_000));
        assert!(!TokenKeys::new(Some(b"another secret!!")).accepts(&token, now));
        assert!(TokenKeys::new(Some(b"0123456789abcdef")).accepts(&token, now));
        assert!(!keys.accepts("not.a.jwt", now));
        // Remembered tokens still expire, and a tampered one is no token.
        assert!(!keys.accepts(&token, now + 61_000));
        let mut tampered = token.clone();
        tampered.pop();
        assert!(!keys.accepts(&tampered, now));
    }
}
