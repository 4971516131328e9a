//! Engine → gateway: what a message is and how it leaves the engine.
//!
//! The engine hands each code to a [`Delivery`] as a [`Message`] and tries
//! the channels of its cascade in order. Implementations: the in-process
//! [`journal::Journal`] (the default of `serve`, no network hop, with its
//! wire view for `GET …/_admin/messages`), and [`http::HttpDelivery`] for
//! `serve --provider URL` (retries, timeouts, a provider's error statuses).
//! This module must not know about stores or dialects.

pub mod http;
pub mod journal;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A delivery channel (DESIGN.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Email,
    Push,
    Telegram,
    Max,
    Whatsapp,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 6] = [
        Channel::Sms,
        Channel::Email,
        Channel::Push,
        Channel::Telegram,
        Channel::Max,
        Channel::Whatsapp,
    ];

    /// The wire name (`sms`, `email`, …).
    pub fn name(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Push => "push",
            Channel::Telegram => "telegram",
            Channel::Max => "max",
            Channel::Whatsapp => "whatsapp",
        }
    }

    /// The channel with this wire name.
    pub fn from_name(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One message to one recipient on one channel. The strings are shared,
/// so trying the next channel or journaling a copy costs no allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub channel: Channel,
    /// The normalised identifier (E.164 or lower-case e-mail).
    pub to: Arc<str>,
    /// The rendered text; it holds the code, so it is never logged.
    pub text: Arc<str>,
    /// Sender name, where the dialect has one.
    pub from: Option<Arc<str>>,
}

/// Why a channel did not take a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// The gateway refused or failed (status, reason).
    Rejected(String),
    /// No answer within the per-attempt timeout.
    Timeout,
    /// The connection failed or was reset.
    Connection(String),
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::Rejected(why) => write!(f, "gateway rejected the message: {why}"),
            DeliveryError::Timeout => f.write_str("gateway did not answer in time"),
            DeliveryError::Connection(why) => write!(f, "gateway connection failed: {why}"),
        }
    }
}

impl std::error::Error for DeliveryError {}

/// Somewhere messages can be handed to.
#[async_trait]
pub trait Delivery: Send + Sync + 'static {
    /// Delivers on `message.channel`, or says why not. Retries, if any,
    /// happen inside; the engine moves to the next channel on error.
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError>;
}

/// A message text with the code's place marked by a placeholder
/// (`{{ code }}` for REES46 and native, `{{CODE}}` for Nomado). Cloning
/// shares the parts, so a dialect can hand its template to every send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Arc<[String]>,
}

impl Template {
    /// Splits `text` at every `placeholder`; `None` when there is none.
    pub fn new(text: &str, placeholder: &str) -> Option<Template> {
        if placeholder.is_empty() || !text.contains(placeholder) {
            return None;
        }
        Some(Template {
            parts: text.split(placeholder).map(str::to_string).collect(),
        })
    }

    /// The text with the code in every placeholder.
    pub fn render(&self, code: &str) -> String {
        self.parts.join(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_every_placeholder() {
        let template = Template::new("{{CODE}} is your code ({{CODE}})", "{{CODE}}").unwrap();
        assert_eq!(template.render("1234"), "1234 is your code (1234)");
        assert!(Template::new("no code here", "{{CODE}}").is_none());
    }

    #[test]
    fn channel_names_round_trip() {
        for channel in Channel::ALL {
            assert_eq!(Channel::from_name(channel.name()), Some(channel));
        }
    }
}
