//! One-time codes: generation and keyed hashing.
//!
//! Codes are drawn from a CSPRNG (`rand`'s thread RNG, ChaCha reseeded from
//! the OS), each character uniform over the policy's alphabet by rejection
//! sampling, so there is no modulo bias. Stores never see a code, only its
//! [`CodeDigest`]: HMAC-SHA256 under the server secret, compared in constant
//! time. A [`Code`] never prints itself in `Debug` output, so it cannot leak
//! into logs by accident.

use hmac::{Hmac, Mac};
use rand::Rng;
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The characters a code is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Alphabet {
    /// `0-9`
    Numeric,
    /// `A-Z`
    Alpha,
    /// `0-9A-Z`
    Alphanumeric,
}

impl Alphabet {
    /// Every character of the alphabet, in a fixed order.
    pub fn symbols(self) -> &'static [u8] {
        match self {
            Alphabet::Numeric => b"0123456789",
            Alphabet::Alpha => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            Alphabet::Alphanumeric => b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        }
    }

    /// The configuration name (`numeric`, `alpha`, `alphanumeric`).
    pub fn name(self) -> &'static str {
        match self {
            Alphabet::Numeric => "numeric",
            Alphabet::Alpha => "alpha",
            Alphabet::Alphanumeric => "alphanumeric",
        }
    }
}

/// A plaintext one-time code. It exists only between generation and
/// delivery (and in responses of dialects that echo it by design).
#[derive(Clone, PartialEq, Eq)]
pub struct Code(String);

impl Code {
    /// Draws a fresh code of `length` characters, each uniform over `alphabet`.
    pub fn generate(alphabet: Alphabet, length: usize) -> Code {
        let symbols = alphabet.symbols();
        let mut rng = rand::rng();
        let code = (0..length)
            .map(|_| symbols[rng.random_range(0..symbols.len())] as char)
            .collect();
        Code(code)
    }

    /// The code's characters, for delivery and echoing.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Code(<redacted>)")
    }
}

/// The keyed hash of a code: what the stores keep instead of the code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CodeDigest(pub [u8; 32]);

impl CodeDigest {
    /// Constant-time equality, so response timing says nothing about how
    /// much of a guess was right.
    pub fn matches(&self, other: &CodeDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for CodeDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeDigest(")?;
        for byte in &self.0[..4] {
            write!(f, "{byte:02x}")?;
        }
        f.write_str("…)")
    }
}

/// HMAC-SHA256 under the server secret. Codes compare case-insensitively
/// (ASCII letters are upper-cased before hashing), which is what the
/// dialects with letter codes document.
#[derive(Clone)]
pub struct CodeHasher {
    /// Keyed once; cloning the keyed state per digest saves re-deriving the
    /// HMAC pads on every call.
    keyed: Hmac<Sha256>,
}

impl CodeHasher {
    /// A hasher keyed with `secret` (any length; 32 random bytes is usual).
    pub fn new(secret: &[u8]) -> CodeHasher {
        let keyed =
            <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length");
        CodeHasher { keyed }
    }

    /// A hasher with a fresh random secret: right for a single process with
    /// the memory store, wrong for several engines sharing one store.
    pub fn random() -> CodeHasher {
        let secret: [u8; 32] = rand::rng().random();
        CodeHasher::new(&secret)
    }

    /// The digest of a code as typed by a user.
    pub fn digest(&self, code: &str) -> CodeDigest {
        let mut mac = self.keyed.clone();
        let mut chunk = [0u8; 64];
        for part in code.as_bytes().chunks(chunk.len()) {
            let upper = &mut chunk[..part.len()];
            upper.copy_from_slice(part);
            upper.make_ascii_uppercase();
            mac.update(upper);
        }
        CodeDigest(mac.finalize().into_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_have_the_length_and_alphabet_asked_for() {
        for alphabet in [Alphabet::Numeric, Alphabet::Alpha, Alphabet::Alphanumeric] {
            for length in [1, 4, 6, 20] {
                let code = Code::generate(alphabet, length);
                assert_eq!(code.as_str().len(), length);
                assert!(code
                    .as_str()
                    .bytes()
                    .all(|c| alphabet.symbols().contains(&c)));
            }
        }
    }

    #[test]
    fn debug_output_never_shows_the_code() {
        let code = Code("123456".into());
        assert!(!format!("{code:?}").contains("123456"));
    }

    #[test]
    fn digests_depend_on_the_secret_and_ignore_letter_case() {
        let a = CodeHasher::new(b"secret-a");
        let b = CodeHasher::new(b"secret-b");
        assert!(a.digest("AB12").matches(&a.digest("ab12")));
        assert!(!a.digest("AB12").matches(&a.digest("AB13")));
        assert!(!a.digest("AB12").matches(&b.digest("AB12")));
        let long = "x".repeat(200);
        assert!(a.digest(&long).matches(&a.digest(&long.to_uppercase())));
    }
}
