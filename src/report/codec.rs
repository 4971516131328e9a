//! How a histogram stands in `report.json`: HdrHistogram's V2 encoding,
//! compressed (the "V2 + DEFLATE" form every HdrHistogram implementation
//! reads, as in `.hlog` interval logs), then standard base64 with padding.
//! A string that starts `HISTFAAA` is such a histogram; HdrHistogram's own
//! tools and the online log analyser decode it.
//!
//! Compressed because a latency histogram with 1 µs .. 60 s at 3 figures
//! has ~18k counters; V2's run-length encoding makes a typical run a few
//! hundred bytes and deflate halves that again.
//!
//! This module only encodes and decodes; it must not interpret the values.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::de::Error as _;
use serde::{
    Deserialize, Deserializer as SerdeDeserializer, Serialize, Serializer as SerdeSerializer,
};

/// A histogram of µs that serialises as base64 V2 + DEFLATE.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedHistogram(pub Histogram<u64>);

/// Why a histogram string could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CodecError {}

/// The base64 V2 + DEFLATE form of `histogram`.
pub(crate) fn encode(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .expect("a u64 histogram serialises into memory");
    STANDARD.encode(bytes)
}

/// A histogram from its base64 V2 form (compressed or not).
pub(crate) fn decode(text: &str) -> Result<Histogram<u64>, CodecError> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| CodecError(format!("histogram is not base64: {e}")))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| {
            CodecError(format!(
                "histogram is not an HdrHistogram V2 encoding: {e:?}"
            ))
        })
}

impl Serialize for EncodedHistogram {
    fn serialize<S: SerdeSerializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for EncodedHistogram {
    fn deserialize<D: SerdeDeserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        decode(&text)
            .map(EncodedHistogram)
            .map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::latency_histogram;

    #[test]
    fn histograms_round_trip_through_base64() {
        let mut h = latency_histogram();
        for v in [1, 50, 1_000, 1_234_567, 60_000_000] {
            h.record_n(v, v % 7 + 1).unwrap();
        }
        let text = encode(&h);
        assert!(text.starts_with("HISTFAAA"), "{text}");
        assert_eq!(decode(&text).unwrap(), h);
        let empty = latency_histogram();
        assert_eq!(decode(&encode(&empty)).unwrap().len(), 0);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(decode("not base64!")
            .unwrap_err()
            .to_string()
            .contains("base64"));
        let error = decode("aGVsbG8gd29ybGQ=").unwrap_err().to_string();
        assert!(error.contains("HdrHistogram V2"), "{error}");
    }
}
