//! The `otpbench` binary: parse the command line, call the library, map
//! errors to exit codes. All logic lives in the library.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use otpbench::cli::{exit, init_logging, Cli, Command, ProviderArgs, ServeArgs};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are not errors.
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(exit::USAGE as u8)
            } else {
                ExitCode::from(exit::OK as u8)
            };
        }
    };
    let code = match cli.command {
        Command::Run(args) => run(args),
        Command::Serve(args) => serve(args),
        Command::Provider(args) => provider(args),
        Command::Load(args) => args.run(&mut std::io::stdout(), &mut std::io::stderr()),
        Command::Capacity(args) => args.run(&mut std::io::stdout(), &mut std::io::stderr()),
        Command::Report(args) => args.run(&mut std::io::stdout(), &mut std::io::stderr()),
        Command::Mutants(args) => mutants(args),
        Command::Check(args) => check(args),
        Command::Fuzz(args) => fuzz(args),
    };
    ExitCode::from(code as u8)
}

fn run(args: otpbench::cli::run::RunArgs) -> i32 {
    let Some(runtime) = runtime("run") else {
        return exit::USAGE;
    };
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    runtime.block_on(otpbench::cli::run::run(args, &mut stdout, &mut stderr))
}

fn mutants(args: otpbench::cli::mutants::MutantsArgs) -> i32 {
    let Some(runtime) = runtime("mutants") else {
        return exit::USAGE;
    };
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    runtime.block_on(otpbench::cli::mutants::run(args, &mut stdout, &mut stderr))
}

fn check(args: otpbench::cli::check::CheckArgs) -> i32 {
    let Some(runtime) = runtime("check") else {
        return exit::USAGE;
    };
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    runtime.block_on(otpbench::cli::check::run(args, &mut stdout, &mut stderr))
}

fn fuzz(args: otpbench::cli::fuzz::FuzzArgs) -> i32 {
    let Some(runtime) = runtime("fuzz") else {
        return exit::USAGE;
    };
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    runtime.block_on(otpbench::cli::fuzz::run(args, &mut stdout, &mut stderr))
}

/// A multi-thread runtime for `command`, or `None` after saying why not.
fn runtime(command: &str) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            eprintln!("otpbench {command}: cannot start the runtime: {error}");
            None
        }
    }
}

fn serve(args: ServeArgs) -> i32 {
    init_logging(args.log_format);
    let config = match args.server_config() {
        Ok(config) => config,
        Err(error) => {
            // Rendered like every file error (`file:line:col`, the line, a
            // caret); a bad `--config` file is exit 2, a flag that needs
            // one (`--store redis://…` without a secret) exit 1.
            eprintln!("otpbench serve: {}", error.render());
            return if args.config.is_some() {
                exit::INVALID_FILE
            } else {
                exit::USAGE
            };
        }
    };
    let store = match &config.store {
        otpbench::server::StoreSpec::Memory => "memory".to_string(),
        otpbench::server::StoreSpec::Redis(options) => {
            otpbench::store::redis::redact_url(&options.url)
        }
    };
    let delivery = config
        .provider
        .clone()
        .unwrap_or_else(|| "in-process journal".into());
    let details = format!(
        "dialects: {}; store: {store}; delivery: {delivery}; test mode: {}; echo codes: {}",
        otpbench::dialect::Dialect::ALL.map(|d| d.name()).join(", "),
        on_off(config.test_mode),
        on_off(config.echo_codes)
    );
    run_server("serve", args.listen, &details, |listener, shutdown| {
        otpbench::server::run(listener, config, shutdown)
    })
}

fn provider(args: ProviderArgs) -> i32 {
    init_logging(args.log_format);
    let config = otpbench::provider::ProviderConfig::default();
    run_server(
        "provider",
        args.listen,
        "mock gateway",
        |listener, shutdown| otpbench::provider::run(listener, config, shutdown),
    )
}

/// What `serve` and `provider` share: a runtime, the listener, signal
/// handlers installed before the address is announced (so an early SIGTERM
/// is not lost), the server until a signal, and the exit code.
fn run_server<F, Fut, E>(command: &str, listen: SocketAddr, details: &str, server: F) -> i32
where
    F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!("otpbench {command}: cannot start the runtime: {error}");
            return exit::USAGE;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!("otpbench {command}: cannot listen on {listen}: {error}");
                return exit::USAGE;
            }
        };
        let shutdown = match shutdown_signal() {
            Ok(shutdown) => shutdown,
            Err(error) => {
                tracing::error!("otpbench {command}: cannot install signal handlers: {error}");
                return exit::USAGE;
            }
        };
        let address = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tracing::info!("otpbench {command}: listening on http://{address} ({details})");
        match server(listener, shutdown).await {
            Ok(()) => {
                tracing::info!("otpbench {command}: stopped");
                exit::OK
            }
            Err(error) => {
                tracing::error!("otpbench {command}: {error}");
                exit::USAGE
            }
        }
    })
}

fn on_off(flag: bool) -> &'static str {
    if flag {
        "on"
    } else {
        "off"
    }
}

/// Completes on SIGINT or SIGTERM.
type Shutdown = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Installs the SIGINT and SIGTERM handlers now (so a signal that arrives
/// right after start-up is not lost) and returns a future that completes
/// on either.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<Shutdown> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(Box::pin(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    }))
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<Shutdown> {
    Ok(Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
    }))
}
