//! The command line: clap definitions and their conversion into library
//! options. `main.rs` parses, converts, and dispatches on the mode; nothing
//! here runs a server or touches a socket.
//!
//! Exit codes are a documented contract (DESIGN.md §5/§7): see [`exit`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Config, ConfigError};
use crate::server::{ServerConfig, StoreSpec};
use crate::store::redis::{redact_url, scrub, RedisOptions};

pub mod check;
pub mod fuzz;
pub mod load;
pub mod mutants;
pub mod report;
pub mod run;
pub mod targets;
pub mod vars;

/// Process exit codes.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Bad flags, a bad config file, or a server that could not start.
    pub const USAGE: i32 = 1;
    /// An input file is invalid: a scenario or target file, or a report
    /// that is missing, not a report, or of another version.
    pub const INVALID_FILE: i32 = 2;
    /// The target could not be reached.
    pub const UNREACHABLE: i32 = 3;
    /// An expectation or property failed.
    pub const FAILED: i32 = 4;
    /// A load gate (`--threshold`, `--baseline`, a capacity SLO that no
    /// rate met) was breached. Distinct from every other failure so CI can
    /// tell "slower" from "broken", like k6's 99.
    pub const GATE: i32 = 5;
}

/// The address `serve` listens on unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// otpbench: load-testing and conformance harness for one-time-password APIs.
#[derive(Debug, Parser)]
#[command(name = "otpbench", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against targets: the whole suite under `scenarios/`
    /// against the embedded engine in every dialect when given nothing.
    Run(run::RunArgs),
    /// Run the reference OTP engine (every dialect on one port).
    Serve(ServeArgs),
    /// Run the mock SMS/e-mail gateway: message journal, fault injection,
    /// Twilio-compatible endpoint.
    Provider(ProviderArgs),
    /// Offer load to a URL or an OTP target (open or closed model) and
    /// write a report; gates exit 5 when breached.
    Load(load::LoadArgs),
    /// Find the highest open-model rate that meets an SLO.
    Capacity(load::CapacityArgs),
    /// Merge, compare or render load reports.
    Report(report::ReportArgs),
    /// Run the scenario suite against the clean embedded engine and
    /// against defective variants of it (mutants); print the kill matrix.
    Mutants(mutants::MutantsArgs),
    /// Model-based random testing: random programs of sends, verifies,
    /// clock moves and bursts, compared with DESIGN.md §2; the first
    /// divergence shrunk, printed and (with --save) saved as a scenario.
    Check(check::CheckArgs),
    /// Generated bad input at every endpoint of a dialect: no 5xx, no
    /// hang, every answer a documented shape, a correct flow still served
    /// after; the first failure shrunk, printed and (with --save) saved.
    Fuzz(fuzz::FuzzArgs),
}

/// The address `provider` listens on unless told otherwise: loopback only.
pub const DEFAULT_PROVIDER_LISTEN: &str = "127.0.0.1:8090";

/// Flags of `otpbench provider`.
#[derive(Debug, Args)]
pub struct ProviderArgs {
    /// Address to listen on (host:port).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_PROVIDER_LISTEN)]
    pub listen: SocketAddr,

    /// How log lines are written to stderr: human text or one JSON object
    /// per line (for log shippers). RUST_LOG filters them (default info;
    /// RUST_LOG=debug adds a line per request).
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

/// Sends `tracing` events to stderr in `format`, filtered by `RUST_LOG`
/// (`info` when unset or unreadable). Logs never carry a code, a secret,
/// a token or a credential: the events are written that way (module docs
/// of `server`, `engine`, `delivery::http`), and no request header, body
/// or query is ever logged. Does nothing when a subscriber is already set.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Flags of `otpbench serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (host:port).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// Config file with credentials and policies (otpbench.yaml format);
    /// without it, the test defaults of DESIGN.md §3.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Where state lives: `memory`, `redis://[:password@]host:port[/db]` or
    /// `redis+cluster://host:port,host:port…`, shared by any number of
    /// engines (the config file must then set `secret`, the same for all).
    #[arg(long, value_name = "URL", default_value = "memory", value_parser = StoreParser)]
    pub store: StoreSpec,

    /// Deliver codes over HTTP to this provider (`http://host:port`, e.g.
    /// `otpbench provider`), retrying and cascading through channels;
    /// without it, into the in-process journal.
    #[arg(long, value_name = "URL", value_parser = parse_provider)]
    pub provider: Option<String>,

    /// Serve /_admin/clock, /_admin/reset, /_admin/messages and
    /// /_admin/customers, and use a clock that /_admin/clock can move
    /// forward; LoyaltyDog's mockCode then holds the code (its vendor's
    /// dev/test mode). Never in production.
    #[arg(long)]
    pub test_mode: bool,

    /// Put each code into send responses that have a field for it
    /// (native "code", LoyaltyDog "mockCode"). Never in production.
    #[arg(long)]
    pub echo_codes: bool,

    /// How log lines are written to stderr: human text or one JSON object
    /// per line (for log shippers). RUST_LOG filters them (default info;
    /// RUST_LOG=debug adds a line per request).
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl ServeArgs {
    /// The server options these flags describe (reads the config file).
    pub fn server_config(&self) -> Result<ServerConfig, ConfigError> {
        let config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if matches!(self.store, StoreSpec::Redis(_)) && config.secret.is_none() {
            let origin = self
                .config
                .as_ref()
                .map_or("--store".to_string(), |p| p.display().to_string());
            return Err(ConfigError::at(
                &origin,
                "",
                None,
                "secret: required with --store redis://…: every engine sharing the \
                 store must hash codes with the same key (32+ hex digits)",
            ));
        }
        Ok(ServerConfig {
            config,
            store: self.store.clone(),
            provider: self.provider.clone(),
            retry: Default::default(),
            test_mode: self.test_mode,
            echo_codes: self.echo_codes,
            ..ServerConfig::default()
        })
    }
}

/// A provider base URL, checked for form.
fn parse_provider(text: &str) -> Result<String, String> {
    crate::delivery::http::HttpDelivery::new(text, Default::default())
        .map(|_| text.trim_end_matches('/').to_string())
}

/// `memory` or a Redis URL, checked for form (not reachability: a Redis
/// that is down makes `/healthz` degrade, not the server refuse to start).
/// Messages never quote a password.
pub(crate) fn parse_store(text: &str) -> Result<StoreSpec, String> {
    if text == "memory" {
        return Ok(StoreSpec::Memory);
    }
    let options = RedisOptions::new(text);
    if let Some(nodes) = text.strip_prefix(crate::store::redis::CLUSTER_SCHEME) {
        for node in nodes.split(',') {
            let node = format!("redis://{node}");
            ::redis::Client::open(node.as_str()).map_err(|e| {
                let why = scrub(&e.to_string(), &node);
                format!("cluster node {}: {why}", redact_url(&node))
            })?;
        }
        return Ok(StoreSpec::Redis(options));
    }
    if !(text.starts_with("redis://") || text.starts_with("rediss://")) {
        return Err("expected `memory`, a redis:// URL or redis+cluster://host:port,…".into());
    }
    ::redis::Client::open(text)
        .map_err(|e| format!("not a Redis URL: {}", scrub(&e.to_string(), text)))?;
    Ok(StoreSpec::Redis(options))
}

/// `--store`'s parser: [`parse_store`], with the rejected value shown
/// redacted (clap's own message would quote it whole, password and all).
#[derive(Clone)]
struct StoreParser;

impl clap::builder::TypedValueParser for StoreParser {
    type Value = StoreSpec;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<StoreSpec, clap::Error> {
        let text = value.to_string_lossy();
        parse_store(&text).map_err(|why| {
            let arg = arg.map_or("--store <URL>".to_string(), |a| a.to_string());
            let message = format!("invalid value '{}' for '{arg}': {why}\n", redact_url(&text));
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, message).with_cmd(command)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_defaults_to_loopback_and_no_test_features() {
        let cli = Cli::try_parse_from(["otpbench", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.listen, DEFAULT_LISTEN.parse().unwrap());
        assert!(!args.test_mode && !args.echo_codes && args.config.is_none());
        let config = args.server_config().unwrap();
        assert_eq!(config.config, Config::default());
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let error =
            Cli::try_parse_from(["otpbench", "serve", "--listen", "localhost"]).unwrap_err();
        assert!(error.to_string().contains("--listen"), "{error}");
        let error = Cli::try_parse_from(["otpbench", "serve", "--tset-mode"]).unwrap_err();
        assert!(error.to_string().contains("--tset-mode"), "{error}");
    }

    #[test]
    fn store_urls_are_checked_and_redis_needs_a_secret() {
        let parse = |args: &[&str]| {
            let mut all = vec!["otpbench", "serve"];
            all.extend(args);
            Cli::try_parse_from(all)
        };
        let error = parse(&["--store", "postgres://x"]).unwrap_err().to_string();
        assert!(
            error.contains("--store") && error.contains("redis://"),
            "{error}"
        );
        let error = parse(&["--store", "redis://:hunter2@bad host:1/x"])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("--store") && error.contains(":***@"),
            "{error}"
        );
        assert!(!error.contains("hunter2"), "{error}");
        let Command::Serve(args) = parse(&["--store", "redis://127.0.0.1:1"]).unwrap().command
        else {
            panic!("not serve")
        };
        assert!(matches!(args.store, StoreSpec::Redis(_)));
        let error = args.server_config().unwrap_err().to_string();
        assert!(error.contains("secret: required"), "{error}");
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
