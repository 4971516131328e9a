//! Who a code goes to: phone numbers written the ways the vendors' docs
//! allow (with or without `+`, a leading `00`, spaces, dashes, dots or
//! brackets) brought to one E.164 form with `+`, Egyptian mobiles for
//! Valify, and e-mail addresses lower-cased. One form per person, so
//! every spelling of a number shares its limits and its challenges.
//! Decides validity only; it never keys, counts or delivers anything.

use phonenumber::country::Id;
use phonenumber::metadata::DATABASE;
use phonenumber::Type;

/// A recipient, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Recipient {
    /// `+` and digits.
    Phone(String),
    /// Lower-cased.
    Email(String),
}

impl Recipient {
    /// The normalised text: the key of limits and challenges, and the
    /// `to` of the delivered message.
    pub(super) fn text(&self) -> &str {
        match self {
            Recipient::Phone(text) | Recipient::Email(text) => text,
        }
    }
}

/// A phone number in international form that libphonenumber would call
/// *possible*: a country calling code it knows and a national number of
/// one of that country's lengths (of any type of number: the metadata
/// leaves the general lengths empty). Brute force over the three lengths a
/// calling code can have (the codes are prefix-free, so at most one fits).
pub(super) fn phone(text: &str) -> Option<String> {
    let digits = international_digits(text)?;
    if !(8..=15).contains(&digits.len()) {
        return None;
    }
    for split in 1..=3 {
        let (code, national) = digits.split_at(split);
        let Ok(code) = code.parse::<u16>() else {
            continue;
        };
        let Some(regions) = DATABASE.by_code(&code) else {
            continue;
        };
        let length = national.len() as u16;
        let possible = regions.iter().any(|meta| {
            let kinds = meta.descriptors();
            [
                Some(kinds.general()),
                kinds.fixed_line(),
                kinds.mobile(),
                kinds.toll_free(),
                kinds.premium_rate(),
                kinds.shared_cost(),
                kinds.personal_number(),
                kinds.voip(),
                kinds.pager(),
                kinds.uan(),
                kinds.voicemail(),
            ]
            .into_iter()
            .flatten()
            .any(|kind| kind.possible_length().contains(&length))
        });
        return possible.then(|| format!("+{digits}"));
    }
    None
}

/// An Egyptian mobile number (Valify accepts nothing else), written
/// nationally (`010…`) or internationally (`+20 10…`, `0020…`).
pub(super) fn egyptian_mobile(text: &str) -> Option<String> {
    let compact = compact(text)?;
    let number = phonenumber::parse(Some(Id::EG), &compact).ok()?;
    if number.code().value() != 20 || number.number_type(&DATABASE) != Type::Mobile {
        return None;
    }
    Some(format!("+20{}", number.national().value()))
}

/// A syntactically valid e-mail address, lower-cased.
pub(super) fn email(text: &str) -> Option<String> {
    let text = text.trim();
    if text.len() > 254 || !email_address::EmailAddress::is_valid(text) {
        return None;
    }
    Some(text.to_lowercase())
}

/// An e-mail address if the text has an `@`, else a phone number.
pub(super) fn phone_or_email(text: &str) -> Option<Recipient> {
    if text.contains('@') {
        email(text).map(Recipient::Email)
    } else {
        phone(text).map(Recipient::Phone)
    }
}

/// The text without the separators people type (spaces, dashes, dots,
/// brackets); `None` if anything else but digits and one leading `+`
/// remains.
fn compact(text: &str) -> Option<String> {
    let kept: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = kept.strip_prefix('+').unwrap_or(&kept);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(kept)
}

/// The digits of an international number, the country code first: `+`
/// and `00` are international prefixes; bare digits are read as already
/// international (how REES46 and Nomado write numbers).
fn international_digits(text: &str) -> Option<String> {
    let compact = compact(text)?;
    let digits = match compact.strip_prefix('+') {
        Some(rest) => rest,
        None => compact.strip_prefix("00").unwrap_or(&compact),
    };
    (!digits.starts_with('0')).then(|| digits.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_number_is_one_recipient() {
        for spelling in [
            "+79991234567",
            "79991234567",
            "0079991234567",
            "+7 999 123-45-67",
            "+7 (999) 123.45.67",
        ] {
            assert_eq!(
                phone(spelling).as_deref(),
                Some("+79991234567"),
                "{spelling}"
            );
        }
        assert_eq!(phone("32412345678").as_deref(), Some("+32412345678"));
        assert_eq!(phone("+14155550100").as_deref(), Some("+14155550100"));
    }

    #[test]
    fn impossible_numbers_are_refused() {
        for bad in [
            "",
            "+",
            "+7999",
            "+7999123456789",
            "abc",
            "+1 415 555 010x",
            "089991234567",
            "+999123456789",
        ] {
            assert_eq!(phone(bad), None, "{bad}");
        }
    }

    #[test]
    fn egyptian_mobiles_only_for_valify() {
        for spelling in [
            "01001234567",
            "+201001234567",
            "00201001234567",
            "0100 123 4567",
        ] {
            assert_eq!(
                egyptian_mobile(spelling).as_deref(),
                Some("+201001234567"),
                "{spelling}"
            );
        }
        for bad in ["0223456789", "+14155550100", "0100123456", "01301234567"] {
            assert_eq!(egyptian_mobile(bad), None, "{bad}");
        }
    }

    #[test]
    fn addresses_are_lower_cased() {
        assert_eq!(
            email(" A.B@Example.COM ").as_deref(),
            Some("a.b@example.com")
        );
        assert_eq!(email("not an address"), None);
        assert_eq!(
            phone_or_email("X@y.org"),
            Some(Recipient::Email("x@y.org".into()))
        );
    }
}
