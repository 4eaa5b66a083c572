//! `quorate demo`: the whole flow on this machine, narrated.
//!
//! A rendezvous server and an HTTP listener run in this process; every actor has its own
//! `quorate node` child process (redb store, real WebRTC over 127.0.0.1) and every step
//! goes through the node's control socket exactly as `quorate group …` does:
//!
//! 1. the mesh forms;
//! 2. the first actor creates a group with voting rules;
//! 3. it invites the others, who accept;
//! 4. everyone sends and reads encrypted messages;
//! 5. a FROST DKG gives the group a t-of-n committee and one key `PK_G`;
//! 6. a member proposes `TRIGGER_X` and members vote until the rule is met;
//! 7. the committee signs the attestation;
//! 8. an outsider verifies it with `PK_G` alone (and OpenSSL when installed);
//! 9. the executing node fires the action (an HTTP POST to the demo's listener, once);
//! 10. a vote removes the last member: a new epoch with a fresh key it never receives;
//! 11. the admin reshares `PK_G` to the remaining members (the removed node erases its
//!     share) and the new committee signs a fresh proposal under the same key.
//!
//! The data directory is kept (each node's store, keys, `node.log`), with
//! `attestation.json`, `attestation-after-rotation.json` and `group-key.txt` for
//! `quorate verify`.

mod cluster;
mod flow;
mod listener;
mod serve;
mod transcript;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use quorate_node::rendezvous::{Server, ServerConfig};
use quorate_node::web::{PageConfig, WebConfig, WebServer};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::Failure;
use crate::cli::DemoArgs;
use cluster::Member;
use listener::{Event, Listener};
use transcript::Transcript;

/// Actor names, in order (the first is the group's creator and admin).
const NAMES: [&str; 9] = ["Ann", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy"];
/// The demo actors' passphrase (their keystores are in the data directory).
const PASSPHRASE: &str = "quorate demo passphrase: not for real use";

/// Everything the flow needs from the setup.
pub(crate) struct Stage {
    pub(crate) dir: PathBuf,
    pub(crate) members: Vec<Member>,
    pub(crate) inbox: Inbox,
    pub(crate) timeout: Duration,
    pub(crate) web: Option<SocketAddr>,
    pub(crate) trigger_url: String,
    pub(crate) rendezvous: String,
    /// The demo's group, once created.
    pub(crate) group: Option<String>,
}

/// What the listener took.
pub(crate) struct Inbox {
    pub(crate) events: mpsc::UnboundedReceiver<Event>,
    /// POSTs of `TRIGGER_X` seen.
    pub(crate) fired: usize,
    /// Actors that asked to join from a tab (answered once the script is done).
    pub(crate) joins: Vec<String>,
}

pub(crate) async fn run(args: DemoArgs) -> Result<(), Failure> {
    let mut t = Transcript::new(args.json);
    let result = tokio::select! {
        biased;
        r = run_flow(&args, &mut t) => r,
        () = crate::shutdown_signal() => Err(Failure::Failed("interrupted".into())),
    };
    match result {
        Ok((result, mut stage)) => {
            if args.json {
                println!("{}", t.to_json(true, result));
            }
            if args.serve {
                serve::run(&mut stage, &t).await?;
            }
            Ok(())
        }
        Err(e) => {
            let message = e.to_string();
            if let Some(step) = t.current() {
                t.say(&format!("     ✗ failed: {message}"));
                t.say(&format!("the demo stopped at: {step}"));
            }
            if args.json {
                println!(
                    "{}",
                    t.to_json(false, serde_json::json!({ "error": message }))
                );
            }
            Err(e)
        }
    }
}

async fn run_flow(args: &DemoArgs, t: &mut Transcript) -> Result<(Value, Stage), Failure> {
    let dir = cluster::data_dir(args.data.as_deref())?;
    let n = usize::from(args.nodes);
    let timeout = Duration::from_secs(args.step_timeout);
    t.say(&format!(
        "Quorate demo: {n} native nodes over WebRTC on 127.0.0.1, one actor each; data in {}",
        dir.display()
    ));

    t.begin(
        "servers",
        "start a rendezvous server and the action listener",
    );
    let server = Server::bind(ServerConfig::new(SocketAddr::from(([127, 0, 0, 1], 0))))
        .await
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let rendezvous = format!("ws://{}", server.local_addr());
    // Both servers run until the process ends.
    tokio::spawn(server.run(std::future::pending()));
    let listener = Listener::bind().await?;
    let hook = listener.addr();
    let (events_tx, events) = mpsc::unbounded_channel();
    tokio::spawn(listener.run(events_tx));
    let trigger_url = format!("http://{hook}/trigger");
    t.detail(&format!("rendezvous {rendezvous}"));
    t.detail(&format!(
        "TRIGGER_X fires an HTTP POST to {trigger_url} (this process listens)"
    ));
    t.done(serde_json::json!({ "rendezvous": rendezvous, "trigger_url": trigger_url }));

    t.begin(
        "actors",
        format!("create {n} actors (Ed25519 keys, passphrase-sealed keystores)"),
    );
    let mut members = Vec::with_capacity(n);
    let passphrase = zeroize::Zeroizing::new(PASSPHRASE.to_owned());
    for name in NAMES.iter().take(n) {
        let member_dir = dir.join(name.to_lowercase());
        let identity =
            crate::actor::create(&member_dir, &passphrase, None, Some((*name).to_owned())).await?;
        let m = Member::new(name, member_dir, &identity);
        t.detail(&format!("{:<4} actor {}", m.name, m.id));
        members.push(m);
    }
    t.done(serde_json::json!({
        "actors": members.iter().map(|m| serde_json::json!({"name": m.name, "id": m.id})).collect::<Vec<_>>(),
    }));

    t.begin(
        "mesh",
        format!("start {n} nodes (each a process with its own redb store) and let them connect"),
    );
    for (i, m) in members.iter_mut().enumerate() {
        // The first actor's node executes external actions: it POSTs TRIGGER_X.
        let extra = if i == 0 {
            vec!["--trigger-url".to_owned(), trigger_url.clone()]
        } else {
            Vec::new()
        };
        m.start(&rendezvous, &extra)?;
    }
    for m in &mut members {
        m.wait_ready(timeout).await?;
        t.detail(&format!(
            "{:<4} node {}… (data {})",
            m.name,
            m.node_id.get(..12).unwrap_or(&m.node_id),
            m.dir.display()
        ));
    }
    let links = cluster::wait_mesh(&members, n - 1, timeout).await?;
    t.detail(&format!(
        "{links} WebRTC DataChannel links among {n} nodes (a full mesh is {})",
        n * (n - 1) / 2
    ));
    t.done(serde_json::json!({ "nodes": members.iter().map(|m| m.node_id.clone()).collect::<Vec<_>>(), "links": links }));

    let web = serve_web(args, t, &members, &rendezvous, hook).await;
    let mut stage = Stage {
        dir,
        members,
        inbox: Inbox {
            events,
            fired: 0,
            joins: Vec::new(),
        },
        timeout,
        web,
        trigger_url,
        rendezvous,
        group: None,
    };
    let result = flow::run(&mut stage, t).await?;
    Ok((result, stage))
}

/// Serves the browser page (if built) with a config naming the demo's rendezvous server,
/// the first node and the join endpoint.
async fn serve_web(
    args: &DemoArgs,
    t: &Transcript,
    members: &[Member],
    rendezvous: &str,
    hook: SocketAddr,
) -> Option<SocketAddr> {
    let web = match WebServer::bind(WebConfig::new(args.web, args.web_dir.clone())).await {
        Ok(web) => web,
        Err(e) => {
            t.say(&format!(
                "\n(browser page not served: {e}. Build it with `scripts/build-web`, then run the demo with --serve to open tabs.)"
            ));
            return None;
        }
    };
    let addr = web.local_addr();
    let mut page = PageConfig::default();
    page.rendezvous = Some(rendezvous.to_owned());
    page.node = members.first().map(|m| m.node_id.clone());
    page.demo = Some(format!("http://{hook}/join"));
    tokio::spawn(web.run(page, std::future::pending()));
    t.say(&format!(
        "\nBrowser demo: open http://{addr}/ in tabs (this run's mesh, live){}",
        if args.serve {
            ""
        } else {
            " — add --serve to keep it up after the script"
        }
    ));
    Some(addr)
}
