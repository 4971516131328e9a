//! The message journal on the wire, shared by the engine's test mode and
//! the mock provider (DESIGN.md §4):
//! `GET …/messages?to=&channel=&after=&wait_ms=` → `{"messages": [{"id",
//! "channel", "to", "text", "from", "received_at"}]}`, oldest first,
//! long-polling up to `wait_ms` (at most 30 s) for a match. In `to=`, `+`
//! is a plus sign (identifiers never hold spaces), so `to=+14155550100`
//! works unencoded.

use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::delivery::journal::{Entry, Filter, Journal};
use crate::delivery::Channel;

/// Longest long-poll a caller may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// The answer's shape: the entries, written as views of themselves.
pub(crate) struct Messages {
    entries: Vec<Entry>,
}

impl Serialize for Messages {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Views<'a>(&'a [Entry]);
        impl Serialize for Views<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.iter().map(MessageView::from))
            }
        }
        let mut answer = serializer.serialize_struct("Messages", 1)?;
        answer.serialize_field("messages", &Views(&self.entries))?;
        answer.end()
    }
}

/// One message on the wire; borrows the entry's strings rather than
/// copying them.
#[derive(Serialize)]
struct MessageView<'a> {
    id: String,
    channel: Channel,
    to: &'a str,
    text: &'a str,
    from: Option<&'a str>,
    received_at: String,
}

/// 9999-12-31T23:59:59.999Z: the last instant RFC 3339 can write.
const LAST_RFC3339_MS: u64 = 253_402_300_799_999;

impl<'a> From<&'a Entry> for MessageView<'a> {
    fn from(entry: &'a Entry) -> Self {
        MessageView {
            id: entry.id.to_string(),
            channel: entry.message.channel,
            to: &entry.message.to,
            text: &entry.message.text,
            from: entry.message.from.as_deref(),
            received_at: rfc3339_millis(entry.received_at_ms),
        }
    }
}

/// A time in ms since the epoch as RFC 3339 with milliseconds. It cannot
/// fail: a time past the year 9999 (which no admin jump reaches) is
/// written as the last instant of that year, rather than panicking.
fn rfc3339_millis(ms: u64) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_millis(ms.min(LAST_RFC3339_MS));
    humantime::format_rfc3339_millis(at).to_string()
}

/// A parsed journal query.
pub(crate) struct JournalQuery {
    filter: Filter,
    wait: Duration,
}

impl JournalQuery {
    /// Reads the query string; the error names the bad parameter.
    pub(crate) fn parse(query: Option<&str>) -> Result<JournalQuery, String> {
        let mut filter = Filter::default();
        let mut wait = Duration::ZERO;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let value =
                percent_decode(raw).ok_or_else(|| format!("{name}: bad percent-encoding"))?;
            match name {
                "to" => filter.to = Some(value),
                "channel" => {
                    let channel = Channel::from_name(&value)
                        .ok_or_else(|| format!("channel: unknown channel {value:?}"))?;
                    filter.channel = Some(channel);
                }
                "after" => {
                    let after = value.parse().map_err(|_| "after: expected a message id")?;
                    filter.after = Some(after);
                }
                "wait_ms" => {
                    let ms: u64 = value
                        .parse()
                        .map_err(|_| "wait_ms: expected whole milliseconds")?;
                    wait = Duration::from_millis(ms).min(MAX_WAIT);
                }
                other => return Err(format!("unknown parameter {other:?}")),
            }
        }
        Ok(JournalQuery { filter, wait })
    }

    /// The matching messages, waiting for one if asked to; returns early
    /// when `stopping` turns true (server shutdown).
    pub(crate) async fn read(
        &self,
        journal: &Journal,
        stopping: &watch::Receiver<bool>,
    ) -> Messages {
        let entries = if self.wait.is_zero() {
            journal.list(&self.filter)
        } else {
            let mut stopping = stopping.clone();
            tokio::select! {
                found = journal.wait(&self.filter, self.wait) => found,
                _ = stopping.wait_for(|&stop| stop) => journal.list(&self.filter),
            }
        };
        Messages { entries }
    }
}

/// `%XX` decoding; `+` stays a plus (see the module docs).
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a clock jumped past the year 9999 made every journal
    /// read panic, which dropped the connection.
    #[test]
    fn any_time_can_be_written() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(LAST_RFC3339_MS), "9999-12-31T23:59:59.999Z");
        for ms in [LAST_RFC3339_MS + 1, i64::MAX as u64, u64::MAX] {
            assert_eq!(rfc3339_millis(ms), "9999-12-31T23:59:59.999Z");
        }
    }

    #[test]
    fn percent_decoding_keeps_plus_signs() {
        assert_eq!(
            percent_decode("+14155550100").as_deref(),
            Some("+14155550100")
        );
        assert_eq!(percent_decode("%2B1%20x").as_deref(), Some("+1 x"));
        assert_eq!(percent_decode("a%4"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
