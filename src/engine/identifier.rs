//! Who a code goes to: a phone number or an e-mail address, normalised.
//!
//! Phone numbers are accepted when they are *possible* in libphonenumber's
//! sense — a known country calling code and a national number of a length
//! that country uses — so every example in the vendor docs passes. The
//! `phonenumber` crate's full parser costs ~3 µs per number, a third of a
//! loopback request, so [`PossibleLengths`] distils its metadata once, at
//! start-up, into a table of calling code → lengths, and the hot path is a
//! few array lookups. Numbers normalise to E.164 with `+` — one text per
//! number, so `+0…` (no country code starts with 0) and national numbers
//! with a leading `0` are refused and the international call prefix `00`
//! is dropped; e-mail addresses (checked by the `email_address` crate) to
//! lower case.

use std::fmt;
use std::sync::OnceLock;

use email_address::{EmailAddress, Options};

/// Longest e-mail address accepted (RFC 5321 path limit less the brackets).
const MAX_EMAIL_LEN: usize = 254;
/// E.164 numbers have at most 15 digits.
const MAX_E164_DIGITS: usize = 15;

/// A normalised recipient.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identifier {
    /// E.164 with a leading `+`.
    Phone(String),
    /// A lower-cased e-mail address.
    Email(String),
}

impl Identifier {
    /// A phone number (`+` and digits; spaces, dots, dashes and brackets
    /// are dropped) or, when it holds an `@`, an e-mail address.
    pub fn parse(text: &str) -> Result<Identifier, IdentifierError> {
        if text.contains('@') {
            Identifier::email(text)
        } else {
            Identifier::phone(text)
        }
    }

    /// A phone number in international form, with or without the leading
    /// `+` (`+14155550100`, `79991234567`, `+44 20 7946 0958`), or after
    /// the international call prefix `00` (`0079991234567`).
    ///
    /// Every number has one normalised form, its E.164 text, so one
    /// subscriber is one key with one set of limits: a country calling
    /// code never starts with `0`, so `+0…` is refused (it is no E.164
    /// number), `00` without `+` is read as the international call prefix
    /// and dropped, and any other leading `0` (a national number, whose
    /// country is unknown) is refused.
    pub fn phone(text: &str) -> Result<Identifier, IdentifierError> {
        let invalid = |why| IdentifierError::Phone {
            input: truncate(text),
            why,
        };
        let body = text.trim();
        let (plus, body) = match body.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, body),
        };
        let mut digits = String::with_capacity(MAX_E164_DIGITS + 3);
        digits.push('+');
        for c in body.chars() {
            match c {
                '0'..='9' => {
                    // Bounded, so a long run of digits costs no allocation.
                    if digits.len() > MAX_E164_DIGITS + 2 {
                        return Err(invalid("longer than the 15 digits E.164 allows"));
                    }
                    digits.push(c)
                }
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(invalid("only digits, an optional leading +, spaces, dots, dashes and brackets are allowed")),
            }
        }
        if digits.len() == 1 {
            return Err(invalid("no digits"));
        }
        if digits.as_bytes()[1] == b'0' {
            if plus {
                return Err(invalid(
                    "a country calling code never starts with 0 (write +<country code>, without 0s after the +)",
                ));
            }
            if !digits[1..].starts_with("00") {
                return Err(invalid(
                    "a national number (leading 0) needs its country calling code",
                ));
            }
            // `00` is the international call prefix: what follows is the
            // number in international form.
            digits.replace_range(1..3, "");
            if digits.len() == 1 {
                return Err(invalid("no digits"));
            }
            if digits.as_bytes()[1] == b'0' {
                return Err(invalid("a country calling code never starts with 0"));
            }
        }
        let count = digits.len() - 1;
        if count > MAX_E164_DIGITS {
            return Err(invalid("longer than the 15 digits E.164 allows"));
        }
        match PossibleLengths::get().check(&digits.as_bytes()[1..]) {
            Possibility::Possible => Ok(Identifier::Phone(digits)),
            Possibility::UnknownCountry => Err(invalid("no such country calling code")),
            Possibility::WrongLength => national_prefix_dropped(&digits)
                .ok_or_else(|| invalid("wrong number of digits for its country calling code")),
        }
    }

    /// An e-mail address (`local@domain`, no display name), lower-cased.
    pub fn email(text: &str) -> Result<Identifier, IdentifierError> {
        let text = text.trim();
        let invalid = |why| IdentifierError::Email {
            input: truncate(text),
            why,
        };
        if text.len() > MAX_EMAIL_LEN {
            return Err(invalid("longer than 254 characters"));
        }
        let options = Options::default().without_display_text();
        match EmailAddress::parse_with_options(text, options) {
            Ok(address) => Ok(Identifier::Email(address.as_str().to_ascii_lowercase())),
            Err(_) => Err(invalid("not a valid e-mail address")),
        }
    }

    /// The normalised text: the key for challenges, limits and the journal.
    pub fn as_str(&self) -> &str {
        match self {
            Identifier::Phone(s) | Identifier::Email(s) => s,
        }
    }

    /// Whether this is a phone number.
    pub fn is_phone(&self) -> bool {
        matches!(self, Identifier::Phone(_))
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A number written with its national prefix after the country code
/// (Gabon's `+241 06 61 23 45 6`, for `+241 66 12 34 56` since its 2019
/// renumbering): libphonenumber drops the prefix where the country's
/// metadata says how (`nationalPrefixForParsing`), so the number is
/// possible in the form it then has. Only a number of the wrong length
/// gets here, so the full parse stays off the common path.
fn national_prefix_dropped(e164: &str) -> Option<Identifier> {
    let number = phonenumber::parse(None, e164).ok()?;
    let normalised = number.format().mode(phonenumber::Mode::E164).to_string();
    let changed = normalised != e164 && normalised.starts_with('+');
    let possible = matches!(
        PossibleLengths::get().check(&normalised.as_bytes()[1..]),
        Possibility::Possible
    );
    (changed && possible).then_some(Identifier::Phone(normalised))
}

fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Why a recipient was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentifierError {
    /// Not a possible phone number.
    Phone { input: String, why: &'static str },
    /// Not an e-mail address.
    Email { input: String, why: &'static str },
}

impl fmt::Display for IdentifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentifierError::Phone { input, why } => {
                write!(f, "{input:?} is not a possible phone number: {why}")
            }
            IdentifierError::Email { input, why } => write!(f, "{input:?}: {why}"),
        }
    }
}

impl std::error::Error for IdentifierError {}

enum Possibility {
    Possible,
    UnknownCountry,
    WrongLength,
}

/// National-number lengths per country calling code, read once from
/// libphonenumber's metadata (the general descriptor of every region that
/// shares the code, over every number type). Lengths are bits of a mask;
/// local-only lengths are
/// not included, since an identifier must be diallable from anywhere.
pub struct PossibleLengths {
    by_code: Vec<u32>,
}

impl PossibleLengths {
    /// The table, built on first use; call at start-up to pay the ~130 ms
    /// metadata load before the first request.
    pub fn get() -> &'static PossibleLengths {
        static TABLE: OnceLock<PossibleLengths> = OnceLock::new();
        TABLE.get_or_init(PossibleLengths::build)
    }

    fn build() -> PossibleLengths {
        let mut by_code = vec![0u32; 1000];
        for meta in phonenumber::metadata::DATABASE.iter() {
            let code = meta.country_code() as usize;
            if code >= by_code.len() {
                continue;
            }
            // The crate leaves the general descriptor's lengths empty;
            // libphonenumber defines them as the union over the number
            // types, which is what is built here (short codes excluded).
            let d = meta.descriptors();
            let types = [
                Some(d.general()),
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.personal_number(),
                d.voip(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ];
            for descriptor in types.into_iter().flatten() {
                for &length in descriptor.possible_length() {
                    if length < 32 {
                        by_code[code] |= 1 << length;
                    }
                }
            }
        }
        PossibleLengths { by_code }
    }

    fn check(&self, digits: &[u8]) -> Possibility {
        // Calling codes are prefix-free (ITU-T E.164), so the first known
        // prefix of one to three digits is the only candidate.
        for code_len in 1..=3.min(digits.len()) {
            let code = digits[..code_len]
                .iter()
                .fold(0usize, |n, d| n * 10 + (d - b'0') as usize);
            let mask = self.by_code[code];
            if mask != 0 {
                let national = digits.len() - code_len;
                return if national < 32 && mask & (1 << national) != 0 {
                    Possibility::Possible
                } else {
                    Possibility::WrongLength
                };
            }
        }
        Possibility::UnknownCountry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_from_the_vendor_docs_are_possible() {
        for (input, normalised) in [
            ("+14155550100", "+14155550100"),
            ("79991234567", "+79991234567"),
            ("32412345678", "+32412345678"),
            ("+20 100 123 4567", "+201001234567"),
            ("+44 (20) 7946-0958", "+442079460958"),
        ] {
            assert_eq!(
                Identifier::parse(input),
                Ok(Identifier::Phone(normalised.into())),
                "{input}"
            );
        }
    }

    /// Regression: Gabon's numbers written with the national prefix
    /// after `+241` were refused, though libphonenumber takes them.
    #[test]
    fn a_national_prefix_the_metadata_drops_is_dropped() {
        for (input, normalised) in [
            ("+241066123456", "+24166123456"),
            ("+241 06 61 23 45 6", "+24166123456"),
            ("+241077123456", "+24177123456"),
            ("+24106031234", "+24106031234"),
        ] {
            assert_eq!(
                Identifier::phone(input),
                Ok(Identifier::Phone(normalised.into())),
                "{input}"
            );
        }
        for wrong in ["+2410661234567", "+24106612"] {
            assert!(Identifier::phone(wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn leading_zeros_after_the_plus_make_no_new_phone_number() {
        let one = Ok(Identifier::Phone("+14155550188".into()));
        for same in ["+14155550188", "0014155550188", "00 1 415 555 0188"] {
            assert_eq!(Identifier::phone(same), one, "{same}");
        }
        for input in [
            "+014155550188",
            "+0014155550188",
            "014155550188",
            "00014155550188",
            "0079991234500x",
            "00",
            "+0",
        ] {
            assert!(Identifier::phone(input).is_err(), "{input}");
        }
        assert_eq!(
            Identifier::phone("0079991234500"),
            Ok(Identifier::Phone("+79991234500".into()))
        );
        let why = Identifier::phone("+014155550188").unwrap_err().to_string();
        assert!(why.contains("never starts with 0"), "{why}");
    }

    #[test]
    fn impossible_phone_numbers_say_why() {
        for (input, why) in [
            ("+1415555010", "wrong number of digits"),
            ("+999123456789", "no such country calling code"),
            ("+1415abc0100", "only digits"),
            ("+", "no digits"),
            ("+1234567890123456", "15 digits"),
        ] {
            let error = Identifier::parse(input).unwrap_err().to_string();
            assert!(error.contains(why), "{input}: {error}");
        }
    }

    #[test]
    fn every_example_number_in_the_metadata_is_possible() {
        let mut checked = 0;
        for meta in phonenumber::metadata::DATABASE.iter() {
            let descriptors = meta.descriptors();
            for descriptor in [descriptors.fixed_line(), descriptors.mobile()]
                .into_iter()
                .flatten()
            {
                if let Some(example) = descriptor.example() {
                    let input = format!("+{}{}", meta.country_code(), example);
                    assert!(Identifier::phone(&input).is_ok(), "{} {input}", meta.id());
                    checked += 1;
                }
            }
        }
        assert!(checked > 400, "only {checked} examples");
    }

    proptest::proptest! {
        /// Valid numbers are a subset of possible ones: whatever the full
        /// libphonenumber validator accepts, the start-up table must too.
        #[test]
        fn every_valid_number_is_possible(
            code in proptest::sample::select(vec![1u16, 7, 20, 32, 33, 44, 49, 55, 81, 86, 91, 234, 380, 971]),
            national in "[1-9][0-9]{5,12}",
        ) {
            // Compared in libphonenumber's own E.164 form: its parser
            // strips a trunk prefix even after `+` (`+7 8 341…` reads as
            // `+7 341…`), so the raw input may be a digit longer than the
            // number it validated.
            let input = format!("+{code}{national}");
            if let Ok(parsed) = phonenumber::parse(None, &input) {
                if phonenumber::is_valid(&parsed) {
                    let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
                    proptest::prop_assert!(Identifier::phone(&e164).is_ok(), "{} ({})", e164, input);
                }
            }
        }
    }

    #[test]
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(
            Identifier::parse("Alice@Example.COM"),
            Ok(Identifier::Email("alice@example.com".into()))
        );
        for bad in ["a@", "@b.c", "a b@c.d", "Alice <a@b.c>"] {
            assert!(Identifier::parse(bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Identifier::parse(&long)
            .unwrap_err()
            .to_string()
            .contains("254"));
    }
}
