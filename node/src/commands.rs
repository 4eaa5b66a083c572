//! The node-side commands: `node`, `put`, `get`, `status`, `signal`.

use std::io::Write as _;
use std::time::Duration;

use quorate_mesh_proto::Cid;
use quorate_node::runtime::control::{self, Reply, Request, Status};
use quorate_node::runtime::{Node, NodeConfig, NodeError, files};

use crate::Failure;
use crate::cli::{GetArgs, NodeArgs, PutArgs, SignalArgs, SignalStep, StatusArgs};

/// `quorate node`: runs until SIGINT or SIGTERM. A web directory without the page or the
/// wasm build is a usage error.
pub(crate) async fn node(args: NodeArgs) -> Result<(), Failure> {
    let mut config = NodeConfig::new(args.data);
    config.rendezvous = args.rendezvous;
    config.room = args.room;
    config.listen = args.listen;
    config.ice_servers = args.ice_servers;
    config.stack = args.stack;
    config.max_peers = args.max_peers;
    config.store_max_bytes = args.store_mib.saturating_mul(1024 * 1024);
    config.trigger_url.clone_from(&args.trigger_url);
    config.web = args.web.config();
    let node = Node::start(config).await.map_err(|e| match e {
        NodeError::Web(e) if e.is_setup() => Failure::Usage(e.to_string()),
        e => Failure::Failed(e.to_string()),
    })?;
    let info = node.info().clone();
    let web = info
        .web
        .map(|addr| format!(" web http://{addr}/"))
        .unwrap_or_default();
    // The first line is for scripts and tests.
    let mut stdout = std::io::stdout().lock();
    if writeln!(
        stdout,
        "node {} udp {} control {}{web}",
        info.id,
        info.udp,
        info.control.display()
    )
    .and_then(|()| stdout.flush())
    .is_err()
    {
        tracing::warn!("stdout is closed; running anyway");
    }
    drop(stdout);
    if info.new_identity {
        tracing::info!("created a new node identity");
    }
    let exit_with_stdin = args.exit_with_stdin;
    node.run(async move {
        if exit_with_stdin {
            tokio::select! {
                () = crate::shutdown_signal() => {}
                () = stdin_closed() => tracing::info!("standard input closed: stopping"),
            }
        } else {
            crate::shutdown_signal().await;
        }
    })
    .await;
    Ok(())
}

/// `quorate put`: prints the CID.
pub(crate) async fn put(args: PutArgs) -> Result<(), String> {
    let cid = files::put_file(&args.data, &args.file)
        .await
        .map_err(|e| e.to_string())?;
    println!("{cid}");
    Ok(())
}

/// `quorate get`: writes the content to `--out` or stdout; says where it came from on
/// stderr.
pub(crate) async fn get(args: GetArgs) -> Result<(), String> {
    let cid: Cid = args
        .cid
        .parse()
        .map_err(|e| format!("{:?} is not a CID: {e}", args.cid))?;
    let wait = Duration::from_secs(args.timeout);
    let got = files::get(&args.data, &cid, wait)
        .await
        .map_err(|e| e.to_string())?;
    match &args.out {
        Some(path) => std::fs::write(path, &got.bytes)
            .map_err(|e| format!("writing {}: {e}", path.display()))?,
        None => std::io::stdout()
            .lock()
            .write_all(&got.bytes)
            .map_err(|e| format!("writing to stdout: {e}"))?,
    }
    let kind = if got.is_file { "file" } else { "block" };
    let source = if got.sources.is_empty() {
        "the local store".to_owned()
    } else {
        format!("peer(s) {}", got.sources.join(", "))
    };
    eprintln!("{kind} of {} bytes from {source}", got.bytes.len());
    Ok(())
}

/// `quorate status`.
pub(crate) async fn status(args: StatusArgs) -> Result<(), String> {
    let reply = control::call(&args.data, &Request::Status, Duration::from_secs(10))
        .await
        .map_err(|e| e.to_string())?;
    let Reply::Status(status) = reply else {
        return Err(format!("unexpected reply {reply:?}"));
    };
    if args.json {
        let json = serde_json::to_string_pretty(&status).map_err(|e| e.to_string())?;
        println!("{json}");
    } else {
        print_status(&status);
    }
    Ok(())
}

fn print_status(s: &Status) {
    println!("node       {}", s.node);
    println!("webrtc     {} on udp {}", s.stack, s.udp);
    if let Some(web) = &s.web {
        println!("web page   {web}");
    }
    if let Some(r) = &s.rendezvous {
        let state = if r.connected {
            "connected"
        } else {
            "disconnected"
        };
        println!(
            "rendezvous {} ({state}, {} others in the room)",
            r.url, r.room_members
        );
    }
    println!("peers      {}", s.peers.len());
    for p in &s.peers {
        println!("  {} (score {})", p.node, p.score);
    }
    println!(
        "store      {} blocks, {} bytes",
        s.store_blocks, s.store_bytes
    );
    println!(
        "traffic    in {} bytes ({} frames), out {} bytes",
        s.bytes_in, s.frames_in, s.bytes_out
    );
    for f in &s.fetched {
        println!("fetched    {} ({} bytes) from {}", f.cid, f.bytes, f.from);
    }
    for m in &s.misbehaviour {
        let node = m.node.as_deref().unwrap_or("(before handshake)");
        match m.score {
            Some(score) => println!("misbehaved {node}: {} (score {score})", m.reason),
            None => println!("misbehaved {node}: {}", m.reason),
        }
    }
}

/// `quorate signal offer|accept`: prints the blob to copy to the other node.
pub(crate) async fn signal(args: SignalArgs) -> Result<(), String> {
    let (data, request) = match args.step {
        SignalStep::Offer { to, data } => (data, Request::Offer { to }),
        SignalStep::Accept { blob, data } => (data, Request::Accept { signal: blob }),
    };
    let reply = control::call(&data, &request, Duration::from_secs(35))
        .await
        .map_err(|e| e.to_string())?;
    match reply {
        Reply::Signal { signal } if signal.is_empty() => {
            eprintln!("taken; the connection opens now");
            Ok(())
        }
        Reply::Signal { signal } => {
            println!("{signal}");
            Ok(())
        }
        Reply::Error { message } => Err(message),
        other => Err(format!("unexpected reply {other:?}")),
    }
}

/// Completes when standard input reaches its end (or fails).
async fn stdin_closed() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin().lock();
        while matches!(std::io::Read::read(&mut stdin, &mut sink), Ok(n) if n > 0) {}
        tx.send(()).ok();
    });
    drop(rx.await);
}
