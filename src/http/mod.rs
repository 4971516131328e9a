//! The HTTP plumbing every otpbench server and client shares, and nothing
//! of OTPs: the accept loop with its graceful drain ([`accept`]) and
//! lingering close ([`linger`]), reading a request body within one size
//! and time limit ([`body`]), JSON responses and content types
//! ([`json`]), and the `Authorization` schemes ([`auth`]).
//!
//! The engine server, the mock provider and the report server are built
//! from these pieces, so a limit, a timeout or a status decided here is
//! decided once for all of them. This module must not know about the
//! engine, dialects or stores.

pub(crate) mod accept;
pub(crate) mod auth;
pub(crate) mod body;
pub(crate) mod json;
pub(crate) mod linger;

pub use accept::DRAIN_TIMEOUT;
pub use body::{DEFAULT_BODY_TIMEOUT, MAX_BODY_BYTES};
