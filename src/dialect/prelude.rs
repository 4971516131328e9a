//! What every dialect file works with — the contract, the wire helpers and
//! the engine's vocabulary — so that a dialect file opens with one import
//! and the rest of it is about its vendor.

pub(crate) use hyper::{HeaderMap, StatusCode};
pub(crate) use serde_json::{json, Map, Value};

pub(crate) use crate::config::Config;
pub(crate) use crate::delivery::Template;
pub(crate) use crate::dialect::client::{bearer, by_status, count, is, text, Classified};
pub(crate) use crate::dialect::reply::{ErrorRow, ErrorTable, JSON};
pub(crate) use crate::dialect::wire;
pub(crate) use crate::dialect::{
    documented, observe_common, read_status, require_bearer, Admitted, Built, ClientError,
    Credentials, Echo, Operation, Protocol, Refusal, Rejection, Reply, Request, SendCall, SendOp,
    ServeContext, Session, VerifyCall, VerifyOp, WireRequest, WireResponse,
};
pub(crate) use crate::engine::identifier::Identifier;
pub(crate) use crate::engine::invalid::BODY;
pub(crate) use crate::engine::outcome::{Fault, Invalid, Observed, Outcome, OutcomeKind, Receipt};
pub(crate) use crate::http::auth::{basic_credentials, bearer_token, secret_eq};
pub(crate) use crate::http::json::is_json;
