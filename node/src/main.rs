//! `quorate`: the Quorate command-line tool. `quorate --help` lists the commands.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool"
)]

mod cli;
mod commands;

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use clap::Parser as _;
use quorate_node::rendezvous::{Server, ServerConfig};
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command, RendezvousArgs};

fn main() -> ExitCode {
    let cli = Cli::parse(); // bad flags: clap prints the error and exits 2
    init_logging();
    let name = match cli.command {
        Command::Rendezvous(args) => return rendezvous(args),
        Command::Node(args) => return with_runtime("node", commands::node(args)),
        Command::Put(args) => return with_runtime("put", commands::put(args)),
        Command::Get(args) => return with_runtime("get", commands::get(args)),
        Command::Status(args) => return with_runtime("status", commands::status(args)),
        Command::Signal(args) => return with_runtime("signal", commands::signal(args)),
        Command::Verify(_) => "verify",
        Command::Demo(_) => "demo",
    };
    eprintln!("quorate {name}: not implemented yet in this build (it comes with governance)");
    ExitCode::from(2)
}

/// Runs a command on a fresh multi-thread runtime; its error is printed as
/// `quorate NAME: error` and the exit code is 1.
fn with_runtime(name: &str, job: impl Future<Output = Result<(), String>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("quorate {name}: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(job) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quorate {name}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn rendezvous(args: RendezvousArgs) -> ExitCode {
    let mut config = ServerConfig::new(args.listen);
    config.max_connections = args.max_connections;
    config.max_room_members = args.max_room_members;
    config.messages_per_sec = args.rate;
    config.message_burst = args.burst;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("quorate rendezvous: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let server = match Server::bind(config).await {
            Ok(server) => server,
            Err(e) => {
                eprintln!("quorate rendezvous: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut stdout = std::io::stdout().lock();
        // The first line is for scripts and tests: they read the port from it.
        if writeln!(stdout, "listening on {}", server.local_addr())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            tracing::warn!("stdout is closed; serving anyway");
        }
        drop(stdout);
        server.run(shutdown_signal()).await;
        ExitCode::SUCCESS
    })
}

/// Completes on SIGINT (ctrl-c) or, on Unix, SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for ctrl-c: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => drop(term.recv().await),
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}
