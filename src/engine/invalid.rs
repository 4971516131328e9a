//! Why input was refused, as data: which field, and what is wrong with it.
//!
//! An [`Invalid`] travels from where a request is checked (a dialect's
//! parser, the engine) to where the answer is rendered, so a dialect picks
//! its wire answer by *field and fault*, never by comparing message
//! strings, and a scenario can expect "invalid input on field `phone`" by
//! name. Its text form, `"<field>: <fault>[: <why>]"` joined by `"; "`, is
//! what the native and Nomado dialects put on the wire, and
//! [`Invalid::parse`] reads it back. This module must not know about HTTP.

use std::borrow::Cow;
use std::fmt;

/// A field name: static for the fields a server checks, owned for the
/// ones a client reads off a response.
pub type Field = Cow<'static, str>;

/// The field name for a problem with the body as a whole (not JSON, not
/// an object, or a dialect that does not say which field).
pub const BODY: &str = "body";

/// What is wrong with one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Required and absent (or `null`).
    Missing,
    /// Present with a JSON type the field does not take.
    WrongType,
    /// An empty string where text is required.
    Empty,
    /// Longer than the field allows.
    TooLong,
    /// A number outside the field's range.
    OutOfRange,
    /// Not in the field's format (a phone number, a UUID, a pattern).
    Malformed,
    /// Refused without a finer reason (the dialect only says "not valid").
    Invalid,
    /// The body is not JSON.
    NotJson,
    /// The body is JSON but not an object.
    NotAnObject,
    /// Two fields that must not be given together.
    Conflict,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 10] = [
        Fault::Missing,
        Fault::WrongType,
        Fault::Empty,
        Fault::TooLong,
        Fault::OutOfRange,
        Fault::Malformed,
        Fault::Invalid,
        Fault::NotJson,
        Fault::NotAnObject,
        Fault::Conflict,
    ];

    /// The snake_case name scenarios use (`wrong_type`).
    pub fn name(self) -> &'static str {
        match self {
            Fault::Missing => "missing",
            Fault::WrongType => "wrong_type",
            Fault::Empty => "empty",
            Fault::TooLong => "too_long",
            Fault::OutOfRange => "out_of_range",
            Fault::Malformed => "malformed",
            Fault::Invalid => "invalid",
            Fault::NotJson => "not_json",
            Fault::NotAnObject => "not_an_object",
            Fault::Conflict => "conflict",
        }
    }

    /// The fault with this snake_case name.
    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }

    /// How the text form words it.
    fn text(self) -> &'static str {
        match self {
            Fault::Missing => "required",
            Fault::WrongType => "wrong type",
            Fault::Empty => "empty",
            Fault::TooLong => "too long",
            Fault::OutOfRange => "out of range",
            Fault::Malformed => "malformed",
            Fault::Invalid => "not valid",
            Fault::NotJson => "not JSON",
            Fault::NotAnObject => "not a JSON object",
            Fault::Conflict => "conflicting fields",
        }
    }

    fn from_text(text: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.text() == text)
    }
}

impl<'de> serde::Deserialize<'de> for Fault {
    /// By name; anything else is an error listing the names.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::names::named(deserializer, "fault", &Fault::ALL, |f| f.name())
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One thing wrong with a request's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field as the dialect names it on the wire (`to`, `identifier`,
    /// `phone_number`, `target`), or [`BODY`].
    pub field: Field,
    pub fault: Fault,
    /// A human explanation, where the dialect carries one.
    pub why: Option<Cow<'static, str>>,
}

/// Why a request's input was refused: one or more problems, the first
/// the one a dialect that names a single field reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Most reasons have one problem; it is kept inline, so building and
    /// copying a reason costs no list.
    first: Problem,
    more: Vec<Problem>,
}

impl Invalid {
    /// `field` has `fault`.
    pub fn new(field: impl Into<Field>, fault: Fault) -> Invalid {
        Invalid {
            first: Problem {
                field: field.into(),
                fault,
                why: None,
            },
            more: Vec::new(),
        }
    }

    /// The body as a whole has `fault`.
    pub fn body(fault: Fault) -> Invalid {
        Invalid::new(BODY, fault)
    }

    /// The same, explained (the first problem's `why`).
    pub fn because(mut self, why: impl Into<Cow<'static, str>>) -> Invalid {
        self.first.why = Some(why.into());
        self
    }

    /// The last problem, explained.
    pub fn explain_last(mut self, why: impl Into<Cow<'static, str>>) -> Invalid {
        let last = self.more.last_mut().unwrap_or(&mut self.first);
        last.why = Some(why.into());
        self
    }

    /// One more problem.
    pub fn and(mut self, field: impl Into<Field>, fault: Fault) -> Invalid {
        self.more.push(Problem {
            field: field.into(),
            fault,
            why: None,
        });
        self
    }

    /// The first problem's field.
    pub fn field(&self) -> &str {
        &self.first.field
    }

    /// The first problem's fault.
    pub fn fault(&self) -> Fault {
        self.first.fault
    }

    /// Every problem, the first first.
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        std::iter::once(&self.first).chain(&self.more)
    }

    /// The problem, when there is just one.
    pub fn only(&self) -> Option<&Problem> {
        self.more.is_empty().then_some(&self.first)
    }

    /// Whether any problem is with `field`.
    pub fn names(&self, field: &str) -> bool {
        self.problems().any(|p| p.field == field)
    }

    /// What of this reason survives its text form: an explained problem
    /// becomes [`Fault::Invalid`] with its explanation. Equal to
    /// `Invalid::parse(&self.to_string())` whenever that reads back at all,
    /// without writing and reading the text (a refusal's hot path).
    pub fn through_text(&self) -> Option<Invalid> {
        let plain = self.problems().all(|p| {
            let field_ok =
                !p.field.is_empty() && !p.field.contains(": ") && !p.field.contains("; ");
            let why_ok = p.why.as_deref().is_none_or(|why| {
                !why.is_empty() && !why.contains("; ") && Fault::from_text(why).is_none()
            });
            field_ok && why_ok && !p.field.ends_with(':')
        });
        if !plain {
            return Invalid::parse(&self.to_string());
        }
        let mut read = self.clone();
        for problem in std::iter::once(&mut read.first).chain(&mut read.more) {
            if problem.why.is_some() {
                problem.fault = Fault::Invalid;
            }
        }
        Some(read)
    }

    /// Reads the text form back; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Invalid> {
        let mut problems = Vec::new();
        for part in text.split("; ") {
            let (field, rest) = part.split_once(": ")?;
            if field.is_empty() || rest.is_empty() {
                return None;
            }
            let (fault, why) = match Fault::from_text(rest) {
                Some(fault) => (fault, None),
                None => (Fault::Invalid, Some(Cow::Owned(rest.to_string()))),
            };
            problems.push(Problem {
                field: Cow::Owned(field.to_string()),
                fault,
                why,
            });
        }
        let mut problems = problems.into_iter();
        let first = problems.next()?;
        Some(Invalid {
            first,
            more: problems.collect(),
        })
    }
}

impl fmt::Display for Invalid {
    /// `"<field>: <why>"` or `"<field>: <fault>"`, joined by `"; "`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, problem) in self.problems().enumerate() {
            if n > 0 {
                f.write_str("; ")?;
            }
            match &problem.why {
                Some(why) => write!(f, "{}: {why}", problem.field)?,
                None => write!(f, "{}: {}", problem.field, problem.fault.text())?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn invalid() -> impl Strategy<Value = Invalid> {
        let problem = (
            "[a-z_][a-z_.]{0,12}",
            proptest::sample::select(Fault::ALL.to_vec()),
            proptest::option::of(prop_oneof![
                "[A-Za-z0-9 ,.()+-]{1,30}: ?[a-z]{0,5}",
                Just("required".to_string()),
                Just("not valid".to_string()),
                Just("a; b: c".to_string()),
            ]),
        );
        proptest::collection::vec(problem, 1..4).prop_map(|problems| {
            let mut problems = problems.into_iter().map(|(field, fault, why)| Problem {
                field: field.into(),
                fault,
                why: why.map(Cow::Owned),
            });
            let first = problems.next().expect("one problem at least");
            Invalid {
                first,
                more: problems.collect(),
            }
        })
    }

    proptest! {
        #[test]
        fn the_text_form_reads_back(invalid in invalid()) {
            prop_assert_eq!(Invalid::parse(&invalid.to_string()), invalid.through_text());
        }
    }

    #[test]
    fn the_text_form_names_field_and_fault() {
        let invalid = Invalid::new("to", Fault::Malformed)
            .because("wrong number of digits")
            .and("purpose", Fault::WrongType);
        assert_eq!(
            invalid.to_string(),
            "to: wrong number of digits; purpose: wrong type"
        );
        assert_eq!(invalid.field(), "to");
        assert!(invalid.names("purpose") && !invalid.names("code"));
        for text in ["", "no colon", "to: ", ": required"] {
            assert_eq!(Invalid::parse(text), None, "{text}");
        }
    }

    #[test]
    fn fault_names_read_back() {
        for fault in Fault::ALL {
            assert_eq!(Fault::from_name(fault.name()), Some(fault));
        }
    }
}
