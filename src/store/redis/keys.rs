//! The Redis store's key names: printable, one per subject with no
//! collisions, and one Cluster hash tag per subject.
//!
//! Under a namespace `NS` (`otpbench` by default; `[A-Za-z0-9_-]+`):
//!
//! - `NS:{<tenant>:<identifier>}` — the subject's hash: its send log, its
//!   challenges by purpose and their latest purge time (`send.lua`);
//! - `NS:{<slot tag>}:id:<uuid>` — where a verify by id finds its
//!   challenge: `<subject key> <purpose>`. The store writes the subject's
//!   Cluster slot into the id's low 14 bits (random in a v4 UUID) and the
//!   slot tag is a number whose hash tag falls in that same slot, so the
//!   entry and the subject's hash always share a slot:
//!   one script can hold both, on a Cluster too;
//! - `NS:clock` — the test-mode clock offset (see `time`).
//!
//! Tenant and identifier are written with `%`, `:`, `{`, `}` and every
//! byte outside printable ASCII (space included) percent-escaped
//! (`%25`, `%3A`, `%7B`, `%7D`, `%20`, …). Escaping is injective and leaves
//! exactly one `:` between the parts, so two subjects never share a key;
//! no `}` inside the braces, so the whole subject is the hash tag. E.164
//! numbers and ordinary e-mail addresses need no escaping at all:
//! `otpbench:{native:+14155550100}`.

use std::fmt::Write as _;
use std::sync::OnceLock;

use crate::engine::outcome::ChallengeId;
use crate::store::Subject;

/// Redis Cluster's slot count.
pub(crate) const SLOTS: u16 = 16_384;

/// The subject's hash.
pub(crate) fn subject_key(namespace: &str, subject: &Subject) -> String {
    let mut key = tenant_prefix(namespace, &subject.tenant);
    escape_into(&mut key, &subject.identifier);
    key.push('}');
    key
}

/// What every subject key of `tenant` starts with: `NS:{<tenant>:`.
pub(crate) fn tenant_prefix(namespace: &str, tenant: &str) -> String {
    let mut prefix = String::with_capacity(namespace.len() + tenant.len() + 24);
    prefix.push_str(namespace);
    prefix.push_str(":{");
    escape_into(&mut prefix, tenant);
    prefix.push(':');
    prefix
}

/// What the id index keys of `slot` start with: `NS:{<slot tag>}:id:`.
pub(crate) fn index_prefix(namespace: &str, slot: u16) -> String {
    format!("{namespace}:{{{}}}:id:", slot_tag(slot))
}

/// The id index entry of `id`, in the slot its low bits name.
pub(crate) fn index_key(namespace: &str, id: ChallengeId) -> String {
    let mut key = index_prefix(namespace, slot_of_id(id));
    let _ = write!(key, "{id}");
    key
}

/// The test-mode clock offset.
pub(crate) fn clock_key(namespace: &str) -> String {
    format!("{namespace}:clock")
}

/// Appends `part`, percent-escaping `%`, `:`, `{`, `}` and every byte that
/// is not printable ASCII.
pub(crate) fn escape_into(out: &mut String, part: &str) {
    for &byte in part.as_bytes() {
        if matches!(byte, b'!'..=b'~') && !matches!(byte, b'%' | b':' | b'{' | b'}') {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// The Cluster slot of a key: CRC16 (XMODEM) of its hash tag — the text
/// between the first `{` and the next `}`, when not empty — or of the
/// whole key, modulo 16384.
pub(crate) fn slot_of(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tag = bytes
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &bytes[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(bytes);
    crc16(tag) % SLOTS
}

/// Writes `slot` into the id's 14 lowest bits (random in a v4 UUID; 108
/// random bits stay).
pub(crate) fn stamp(id: ChallengeId, slot: u16) -> ChallengeId {
    let bits = (id.as_u128() & !u128::from(SLOTS - 1)) | u128::from(slot % SLOTS);
    ChallengeId(uuid::Uuid::from_u128(bits))
}

/// The slot an id was stamped with.
pub(crate) fn slot_of_id(id: ChallengeId) -> u16 {
    (id.as_u128() & u128::from(SLOTS - 1)) as u16
}

/// The smallest number whose decimal digits hash to `slot`.
fn slot_tag(slot: u16) -> u32 {
    static TAGS: OnceLock<Box<[u32]>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        // Every slot is covered by n < 109,758 (~1 ms, once per process).
        let mut tags = vec![u32::MAX; SLOTS as usize];
        let mut missing = SLOTS as usize;
        let mut digits = String::new();
        let mut n = 0u32;
        while missing > 0 {
            digits.clear();
            let _ = write!(digits, "{n}");
            let slot = crc16(digits.as_bytes()) % SLOTS;
            if tags[slot as usize] == u32::MAX {
                tags[slot as usize] = n;
                missing -= 1;
            }
            n += 1;
        }
        tags.into_boxed_slice()
    });
    tags[(slot % SLOTS) as usize]
}

/// CRC-16/XMODEM, as Redis Cluster computes it.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::redis::cluster_routing::Slot;
    use proptest::prelude::*;

    fn subject(tenant: &str, identifier: &str) -> Subject {
        Subject {
            tenant: tenant.into(),
            identifier: identifier.into(),
        }
    }

    #[test]
    fn ordinary_subjects_read_as_they_are() {
        assert_eq!(
            subject_key("otpbench", &subject("native", "+14155550100")),
            "otpbench:{native:+14155550100}"
        );
        assert_eq!(
            subject_key("ns", &subject("rees46:shop", "a b@c.d")),
            "ns:{rees46%3Ashop:a%20b@c.d}"
        );
        assert_eq!(
            subject_key("ns", &subject("{}%", "é\0")),
            "ns:{%7B%7D%25:%C3%A9%00}"
        );
        assert_eq!(clock_key("otpbench"), "otpbench:clock");
    }

    #[test]
    fn crc16_is_redis_clusters() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        for key in ["otpbench:{native:+1}", "a{}b", "{x}", "plain", "a{b"] {
            assert_eq!(Slot::new(slot_of(key)), Some(Slot::for_key(key)), "{key}");
        }
    }

    #[test]
    fn every_slot_has_a_tag_in_that_slot() {
        for slot in 0..SLOTS {
            let prefix = index_prefix("ns", slot);
            assert_eq!(slot_of(&prefix), slot, "{prefix}");
        }
    }

    #[test]
    fn an_id_stamped_with_a_subjects_slot_indexes_beside_it() {
        let key = subject_key("otpbench", &subject("native", "+14155550100"));
        let id = stamp(ChallengeId::random(), slot_of(&key));
        assert_eq!(id.0.get_version_num(), 4);
        assert_eq!(id.0.get_variant(), uuid::Variant::RFC4122);
        let index = index_key("otpbench", id);
        assert_eq!(Slot::for_key(&index), Slot::for_key(&key), "{index}");
        assert!(index.ends_with(&format!(":id:{id}")));
    }

    /// Text built mostly from the characters the escaping is about.
    fn awkward() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just(':'),
                Just('{'),
                Just('}'),
                Just('%'),
                Just(' '),
                Just('\0'),
                Just('a'),
                Just('3'),
                Just('A'),
                Just('é'),
                any::<char>(),
            ],
            0..8,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn distinct_subjects_never_share_a_key(
            a in (awkward(), awkward()),
            b in (awkward(), awkward()),
        ) {
            let (ka, kb) = (subject_key("ns", &subject(&a.0, &a.1)), subject_key("ns", &subject(&b.0, &b.1)));
            prop_assert_eq!(a == b, ka == kb, "{:?} {:?} -> {} {}", a, b, ka, kb);
        }

        #[test]
        fn a_subject_key_is_printable_and_its_whole_subject_is_the_hash_tag(
            tenant in awkward(),
            identifier in awkward(),
        ) {
            let key = subject_key("ns", &subject(&tenant, &identifier));
            prop_assert!(key.bytes().all(|b| b.is_ascii_graphic()), "{}", key);
            let tag = &key["ns:{".len()..key.len() - 1];
            prop_assert!(!tag.contains('}') && !tag.contains('{'), "{}", key);
            prop_assert_eq!(tag.matches(':').count(), 1, "{}", key);
            prop_assert!(key.starts_with(&tenant_prefix("ns", &tenant)));
            prop_assert_eq!(Slot::new(slot_of(&key)), Some(Slot::for_key(&key)));
        }

        #[test]
        fn a_tenant_prefix_matches_only_its_own_tenant(
            a in (awkward(), awkward()),
            other in awkward(),
        ) {
            let key = subject_key("ns", &subject(&a.0, &a.1));
            prop_assert_eq!(key.starts_with(&tenant_prefix("ns", &other)), other == a.0);
        }
    }
}
