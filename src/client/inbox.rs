//! Reading codes from the mock provider's journal (DESIGN.md §4):
//! `GET /_admin/messages?to=&after=&wait_ms=` long-polls for messages to
//! an identifier, and the code is taken out of the newest one's text.
//! [`Journal::read`] is the one reader: the scenario runner, the model
//! checker and the load flow all wait for a message the same way, in
//! turns of the provider's longest long-poll.

use std::time::{Duration, Instant};

use regex::Regex;
use serde::Deserialize;

use crate::client::executor::Executor;
use crate::client::request::HttpRequest;
use crate::client::target::BaseUrl;
use crate::client::CallError;
use crate::delivery::journal::MAX_WAIT;

/// A journaled message, as the journal shows it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Message {
    #[serde(deserialize_with = "id")]
    pub(crate) id: u64,
    pub(crate) text: String,
}

#[derive(Deserialize)]
struct Messages {
    messages: Vec<Message>,
}

/// Message ids are numbers written as strings.
fn id<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// A provider's journal, read through an executor.
pub(crate) struct Journal<'a> {
    pub(crate) executor: &'a Executor,
    pub(crate) provider: &'a BaseUrl,
}

impl Journal<'_> {
    /// Messages to `to` after message `after`, oldest first. With `wait`,
    /// until one arrives or the wait is over: the provider holds each
    /// request up to its longest long-poll ([`MAX_WAIT`]), so a longer
    /// wait is several turns. Without, what is there now.
    pub(crate) async fn read(
        &self,
        to: &str,
        after: u64,
        wait: Option<Duration>,
    ) -> Result<Vec<Message>, CallError> {
        let Some(wait) = wait else {
            return self.turn(to, after, None).await;
        };
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let turn = left.min(MAX_WAIT);
            let found = self.turn(to, after, Some(turn)).await?;
            if !found.is_empty() || left <= turn {
                return Ok(found);
            }
        }
    }

    /// One request to the journal, held up to `wait` by the provider.
    async fn turn(
        &self,
        to: &str,
        after: u64,
        wait: Option<Duration>,
    ) -> Result<Vec<Message>, CallError> {
        let mut query = format!("/_admin/messages?to={}", encode(to));
        if after > 0 {
            query.push_str(&format!("&after={after}"));
        }
        if let Some(wait) = wait {
            query.push_str(&format!("&wait_ms={}", wait.as_millis()));
        }
        let request = HttpRequest::get(&self.provider.join(&query)).map_err(CallError::Build)?;
        let timeout = self.executor.timeout() + wait.unwrap_or_default();
        let exchange = self.executor.execute_within(&request, timeout).await?;
        if exchange.status != 200 {
            return Err(CallError::Hook(format!(
                "GET {query} on the provider answered {}: {}",
                exchange.status,
                exchange.text()
            )));
        }
        let messages: Messages = serde_json::from_slice(&exchange.body)
            .map_err(|e| CallError::Hook(format!("the provider's journal is not readable: {e}")))?;
        Ok(messages.messages)
    }
}

/// The last code `pattern` finds in `text` (its first group, if it has one).
pub(crate) fn code_in(pattern: &Regex, text: &str) -> Option<String> {
    pattern
        .captures_iter(text)
        .last()
        .and_then(|c| c.get(1).or_else(|| c.get(0)))
        .map(|m| m.as_str().to_string())
}

/// Percent-encodes what a query value must not hold raw (`+` stays: the
/// journal reads it as a plus sign).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'-' | b'.' | b'_' | b'@' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_code_in_a_text_is_taken() {
        let pattern = Regex::new(r"(?:^|[^0-9])([0-9]{4})(?:$|[^0-9])").unwrap();
        assert_eq!(
            code_in(&pattern, "Use 1234, not 5678").as_deref(),
            Some("5678")
        );
        assert_eq!(code_in(&pattern, "no code"), None);
        assert_eq!(encode("a b&c+1@x.y"), "a%20b%26c+1@x.y");
    }
}
