//! otpbench: a load-testing and conformance harness for one-time-password
//! APIs, built around a reference OTP engine.
//!
//! # Layout
//!
//! Start from the domain and walk outwards:
//!
//! - [`engine`] — the OTP logic with no sockets: [`engine::Engine`],
//!   [`engine::policy::Policy`], code generation and keyed hashing
//!   ([`engine::code`]), the [`engine::clock::Clock`] time is read
//!   through, recipients ([`engine::identifier`]) and the
//!   [`engine::outcome::Outcome`] vocabulary every part shares.
//! - [`store`] — the [`store::Store`] trait (one call = one atomic decision,
//!   at the store's own time) and its implementations: [`store::memory`]
//!   (sharded, self-purging) and [`store::redis`] (one Lua script per
//!   decision, several engines, the Redis server's clock).
//! - [`delivery`] — how messages leave the engine: the
//!   [`delivery::Delivery`] trait, message templates, and the in-process
//!   [`delivery::journal::Journal`].
//! - [`dialect`] — one file per wire dialect holding its server side and
//!   its client side, so the two cannot drift: [`dialect::native`],
//!   [`dialect::rees46`], [`dialect::sigmasms`], [`dialect::valify`],
//!   [`dialect::nomado`], [`dialect::loyaltydog`]; [`dialect::client`] is
//!   the client side's vocabulary (abstract operations, credentials,
//!   [`engine::outcome::Observed`]).
//! - `http` (private) — the plumbing every server and client shares: the
//!   accept loop, the body limit, JSON responses, `Authorization` schemes.
//! - [`server`] — the hyper server that puts the engine behind every
//!   dialect, with `/healthz`, `/metrics` and the test-mode admin routes.
//! - [`provider`] — the mock SMS/e-mail gateway: message journal, fault
//!   injection, a Twilio-compatible endpoint.
//! - [`client`] — the one HTTP executor that reaches a target: one
//!   request type built once, one transport error, the executor's own
//!   timeout, over hyper's pool (TLS) or, for plain `http://` load, a raw
//!   connection per lane; target files ([`client::TargetSpec`]), dialect
//!   sessions, code sources (one journal reader), the clock hook
//!   ([`client::Target`]).
//! - [`config`] — the `otpbench.yaml` file: policies and credentials.
//! - [`cli`] — clap definitions and their conversion into library options;
//!   `main.rs` only dispatches.
//! - [`duration`] — `300ms` / `5s` / `5m` / `1h` / `1d`, read the same everywhere.
//! - [`source`] — errors in the files otpbench reads, with their position:
//!   the file's source map (key path → `line:col`), one snippet renderer
//!   (`file:line:col`, the line, a caret, did-you-mean) for every report,
//!   JUnit and JSON included.
//! - [`names`] — names read from closed sets (dialects, outcomes, faults)
//!   and the edit distance behind "did you mean"; the engine's only
//!   import from the file-reading side.
//! - [`vars`] — `${env.NAME}` and `${var.NAME}` in target, scenario and
//!   workload files (from the environment, `--var` and `--vars-file`),
//!   expanded as a file is read, and the masking of their values as `***`
//!   in every output.
//! - [`load`] — the load generator. Its network-free core: open and
//!   closed models ([`load::schedule`]), per-worker recording with
//!   coordinated-omission correction ([`load::recorder`]), the per-second
//!   series ([`load::series`]) and the capacity search
//!   ([`load::capacity`]). Around it: one worker loop for both models on a
//!   current-thread runtime per worker thread, the workloads (plain HTTP,
//!   [`load::http`]; the OTP flow, [`load::flow`]), workload files
//!   ([`load::file`]), progress ([`load::progress`]) and the `load` /
//!   `capacity` commands ([`load::command`]).
//! - [`scenario`] — `otpbench run`: scenario files (model, loading with
//!   positions, templates and their arithmetic, matchers), running cases
//!   against targets, and
//!   the human, JUnit and JSON reports of a run.
//! - [`mutants`] — `otpbench mutants`: defective variants of the engine,
//!   built around it (store decorators, a proxy layer that rewrites
//!   requests and answers, a contradicting config), and the kill matrix
//!   of the scenario suite against them ([`mutants::matrix`]).
//! - [`check`] — `otpbench check`: the one reference model of DESIGN.md
//!   §2 ([`check::model`]), random programs over it run against any
//!   target through the client, shrunk counterexamples saved as
//!   scenarios.
//! - [`report`] — `report.json` and everything that reads or writes it:
//!   renderers (JSON, `.hgrm`, HTML, Markdown), merge, compare and the
//!   `--threshold` / `--baseline` gates ([`report::gate`]).
//!
//! Rules of the house: the engine knows nothing of HTTP, dialects nothing
//! of stores; time is read only through a `Clock`, and decisions are made
//! at the store's time (one time source per deployment); servers take their
//! listener and shutdown future from the caller
//! ([`server::run`]), so tests bind `127.0.0.1:0`.

pub mod check;
pub mod cli;
pub mod client;
pub mod config;
pub mod delivery;
pub mod dialect;
pub mod duration;
pub mod engine;
mod http;
pub mod load;
pub mod mutants;
pub mod names;
pub mod provider;
pub mod report;
pub mod scenario;
pub mod server;
pub mod source;
pub mod store;
pub mod vars;

pub use engine::outcome::{Fault, Invalid, Observed, Outcome, OutcomeKind, Receipt};
pub use engine::Engine;
