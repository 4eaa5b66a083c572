//! `quorate`: the Quorate command-line tool. `quorate --help` lists the commands.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool"
)]

mod actor;
mod cli;
mod commands;
mod demo;
mod group;
mod verify;

use std::io::{IsTerminal as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;

use clap::Parser as _;
use quorate_node::rendezvous::{Server, ServerConfig};
use quorate_node::web::{PageConfig, WebError, WebServer};
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command, RendezvousArgs};

fn main() -> ExitCode {
    let cli = Cli::parse(); // bad flags: clap prints the error and exits 2
    // The demo narrates; its servers' logs would only interleave (its nodes log to files).
    init_logging(if matches!(cli.command, Command::Demo(_)) {
        "warn"
    } else {
        "info"
    });
    match cli.command {
        Command::Rendezvous(args) => rendezvous(args),
        Command::Node(args) => with_runtime("node", commands::node(args)),
        Command::Put(args) => with_runtime("put", commands::put(args)),
        Command::Get(args) => with_runtime("get", commands::get(args)),
        Command::Status(args) => with_runtime("status", commands::status(args)),
        Command::Signal(args) => with_runtime("signal", commands::signal(args)),
        Command::Actor(args) => with_runtime("actor", actor::run(args)),
        Command::Group(args) => with_runtime("group", group::run(args)),
        Command::Verify(args) => match verify::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => e.report("verify"),
        },
        Command::Demo(args) => with_runtime("demo", demo::run(args)),
    }
}

/// How a command failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The user asked for something that cannot work as given (exit code 2, like clap's
    /// errors).
    Usage(String),
    /// Something failed (exit code 1).
    Failed(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Failed(m) => f.write_str(m),
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Failed(message)
    }
}

impl Failure {
    fn report(self, name: &str) -> ExitCode {
        let (message, code) = match self {
            Failure::Usage(message) => (message, ExitCode::from(2)),
            Failure::Failed(message) => (message, ExitCode::FAILURE),
        };
        eprintln!("quorate {name}: {message}");
        code
    }
}

impl From<WebError> for Failure {
    fn from(e: WebError) -> Self {
        if e.is_setup() {
            Failure::Usage(e.to_string())
        } else {
            Failure::Failed(e.to_string())
        }
    }
}

/// Runs a command on a fresh multi-thread runtime; its error is printed as
/// `quorate NAME: error` and the exit code is 1 (2 for a [`Failure::Usage`]).
fn with_runtime<E: Into<Failure>>(
    name: &str,
    job: impl Future<Output = Result<(), E>>,
) -> ExitCode {
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
        Err(e) => e.into().report(name),
    }
}

fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
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
    let web = args.web.config();
    with_runtime("rendezvous", async move {
        // The web directory is checked first: a missing build is a usage error.
        let web = match web {
            Some(web) => Some(WebServer::bind(web).await?),
            None => None,
        };
        let server = Server::bind(config).await.map_err(|e| e.to_string())?;
        let addr = server.local_addr();
        let web_url = web
            .as_ref()
            .map(|web| format!(" web http://{}/", web.local_addr()))
            .unwrap_or_default();
        let mut stdout = std::io::stdout().lock();
        // The first line is for scripts and tests: they read the port from it.
        if writeln!(stdout, "listening on {addr}{web_url}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            tracing::warn!("stdout is closed; serving anyway");
        }
        drop(stdout);
        let web_task = web.map(|web| {
            let mut page = PageConfig::default();
            page.rendezvous = Some(format!("ws://{}", reachable(addr)));
            tokio::spawn(web.run(page, std::future::pending()))
        });
        server.run(shutdown_signal()).await;
        if let Some(task) = web_task {
            task.abort();
        }
        Ok::<(), Failure>(())
    })
}

/// The address a browser on this machine reaches a listener at: an unspecified address
/// (0.0.0.0, ::) becomes the loopback one.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()))
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
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
