//! Black-box and cross-module tests, one binary with modules by topic
//! (one link instead of many).
//!
//! Engine tests are written once against `Arc<dyn Store>` and stamped out
//! for every store by [`for_each_store!`], so a new store is one more line
//! there, not a copy of the suite.

mod support;

mod check;
mod ci_recipes;
mod cli;
mod code_uniformity;
mod delivery_http;
mod dialect_fuzz;
mod dialect_round_trip;
mod dialect_tolerance;
mod engine_races;
mod engine_semantics;
mod engine_state_machine;
mod fuzz;
mod half_close;
mod independent;
mod load_capacity;
mod load_files;
mod load_generator;
mod load_recorder;
mod load_runs;
mod load_soak;
mod logs;
mod mutants;
mod native_fuzz;
mod openapi;
mod provider;
mod readme;
mod redis_store;
mod redis_tls;
mod report_commands;
mod report_files;
mod report_gates;
mod run_reports;
mod runner_files;
mod runner_suite;
mod runner_targets;
mod server_dialects;
mod server_http;
mod server_loyaltydog;
mod server_native;
mod server_nomado;
mod server_rees46;
mod server_sigmasms;
mod server_valify;
mod slow_clients;
mod variables;
