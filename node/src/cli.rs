//! The command line: one subcommand per job.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use quorate_node::runtime::Stack;
use quorate_node::web::WebConfig;

/// Quorate: peer-to-peer groups that govern themselves.
///
/// Logging goes to stderr and is filtered by RUST_LOG (default: info), e.g.
/// RUST_LOG=quorate_node=debug.
#[derive(Debug, Parser)]
#[command(name = "quorate", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a rendezvous (signaling) server where nodes meet and exchange WebRTC offers.
    ///
    /// Prints `listening on ADDR` (followed by `web URL` with --serve-web) as its first
    /// line on stdout, then serves until SIGINT or SIGTERM, when it closes every connection
    /// and exits 0.
    Rendezvous(RendezvousArgs),
    /// Run a node: join the mesh through a rendezvous server, serve and fetch blocks,
    /// persist them to a data directory. Prints `node ID udp ADDR control PATH` (followed
    /// by `web URL` with --serve-web) as its first line on stdout; stops cleanly on SIGINT
    /// or SIGTERM.
    Node(NodeArgs),
    /// Store a file in a node's data directory and print its CID.
    Put(PutArgs),
    /// Fetch a block or file by CID (from the local store, else from the mesh) and write
    /// it out.
    Get(GetArgs),
    /// Show a running node: id, peers, traffic, recent fetches and misbehaviour.
    Status(StatusArgs),
    /// Connect two nodes by copy-paste, with no server at all.
    Signal(SignalArgs),
    /// Actors (people): create an identity, log in anywhere, back it up, post to its feed.
    ///
    /// The passphrase comes from --passphrase-file, else $QUORATE_PASSPHRASE, else one line
    /// on stdin.
    Actor(ActorArgs),
    /// End-to-end encrypted groups: create, invite, accept, send, read, remove, leave.
    ///
    /// Needs `quorate node` running on DIR and the actor's keystore there (`quorate actor
    /// new`); the passphrase comes as for `quorate actor`.
    Group(GroupArgs),
    /// Verify a group attestation as an outsider: with only the group key `PK_G` and the
    /// attestation — no votes, members or rules. Exit 0 if it verifies, 1 if not.
    Verify(VerifyArgs),
    /// Run the whole demo on this machine: a rendezvous server, several nodes, a vote and
    /// a threshold signature.
    Demo(DemoArgs),
}

/// `quorate rendezvous`.
#[derive(Debug, Args)]
pub(crate) struct RendezvousArgs {
    /// Address to listen on, an IP address and port (port 0 picks a free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7480")]
    pub(crate) listen: SocketAddr,
    /// Open connections at most.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub(crate) max_connections: usize,
    /// Members per room at most.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(crate) max_room_members: usize,
    /// Sustained messages per second per connection.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub(crate) rate: u32,
    /// Messages a connection may send at once before the rate applies.
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub(crate) burst: u32,
    #[command(flatten)]
    pub(crate) web: WebArgs,
}

/// `--serve-web` and `--web-dir`, for `quorate node` and `quorate rendezvous`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Browser page")]
pub(crate) struct WebArgs {
    /// Also serve the browser node over HTTP on this address, e.g. 127.0.0.1:8080 (port 0
    /// picks a free one), then open http://ADDR/ in a browser: the page, its wasm, and
    /// /config.json telling it the rendezvous server (and, from `quorate node`, the
    /// node's id). Needs the wasm build: run `scripts/build-web` first. No TLS.
    #[arg(long, value_name = "ADDR")]
    pub(crate) serve_web: Option<SocketAddr>,
    /// The web directory for --serve-web: its www/ (the page) and pkg/ (the wasm build
    /// from scripts/build-web) are served; nothing else in it is.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "web",
        requires = "serve_web"
    )]
    pub(crate) web_dir: PathBuf,
}

impl WebArgs {
    /// The server's configuration, if asked to serve.
    pub(crate) fn config(&self) -> Option<WebConfig> {
        self.serve_web
            .map(|addr| WebConfig::new(addr, self.web_dir.clone()))
    }
}

/// `quorate node`.
#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    /// Rendezvous server for first contact, e.g. ws://127.0.0.1:7480. Without one, peers
    /// come by copy-paste (`quorate signal`) and through the mesh.
    #[arg(long, value_name = "URL")]
    pub(crate) rendezvous: Option<String>,
    /// Room to join on the rendezvous server.
    #[arg(long, value_name = "NAME", default_value = "quorate")]
    pub(crate) room: String,
    /// Data directory: the node key, the block store and the control socket live here
    /// (created if missing).
    #[arg(long, value_name = "DIR")]
    pub(crate) data: PathBuf,
    /// Address the WebRTC (UDP) socket binds to; it is also the candidate offered to
    /// peers, so give a concrete address, not 0.0.0.0.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) listen: SocketAddr,
    /// ICE server URL (stun:HOST:PORT); repeat for several. None by default: no public
    /// server is ever contacted unless given here.
    #[arg(long = "ice-server", value_name = "URL")]
    pub(crate) ice_servers: Vec<String>,
    /// WebRTC stack: webrtc-rs (default) or str0m (if built with the `str0m` feature).
    #[arg(long, value_name = "STACK", default_value = "webrtc-rs")]
    pub(crate) stack: Stack,
    /// Peers this node dials on its own at most.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub(crate) max_peers: usize,
    /// Cap on stored block bytes, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    pub(crate) store_mib: u64,
    /// Run the external action TRIGGER_X here: once a group attests it, POST a JSON body
    /// to this URL (`http://127.0.0.1:PORT/PATH`) with the proposal id as
    /// `Idempotency-Key`, once per proposal (markers in DIR/executions.redb).
    #[arg(long, value_name = "URL")]
    pub(crate) trigger_url: Option<String>,
    /// Stop when standard input closes: a parent process (`quorate demo`) that dies, even
    /// by SIGKILL, takes its nodes with it.
    #[arg(long, hide = true)]
    pub(crate) exit_with_stdin: bool,
    #[command(flatten)]
    pub(crate) web: WebArgs,
}

/// `quorate put`.
#[derive(Debug, Args)]
pub(crate) struct PutArgs {
    /// The file to store.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Data directory of the node to store it in (its running node, else its store).
    #[arg(long, value_name = "DIR")]
    pub(crate) data: PathBuf,
}

/// `quorate get`.
#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// The CID printed by `quorate put` (bafy… for files, bafk… for raw blocks).
    #[arg(value_name = "CID")]
    pub(crate) cid: String,
    /// Data directory of the node to ask (its running node fetches from peers; without
    /// one, only the local store is read).
    #[arg(long, value_name = "DIR")]
    pub(crate) data: PathBuf,
    /// Write the bytes here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Seconds to wait for peers, per block.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub(crate) timeout: u64,
}

/// `quorate status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Data directory of the running node.
    #[arg(long, value_name = "DIR")]
    pub(crate) data: PathBuf,
    /// Print JSON instead of a summary.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `quorate signal`.
#[derive(Debug, Args)]
pub(crate) struct SignalArgs {
    #[command(subcommand)]
    pub(crate) step: SignalStep,
}

/// The steps of copy-paste signaling.
#[derive(Debug, Subcommand)]
pub(crate) enum SignalStep {
    /// Step 1, on the dialing node: print an offer to copy to node TO.
    Offer {
        /// The node to connect to (its id from `quorate status`).
        #[arg(long, value_name = "NODE")]
        to: String,
        /// Data directory of the running dialing node.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// Steps 2 and 3: give a node the blob copied from the other one. For an offer, prints
    /// the answer to copy back; for an answer, prints nothing and the connection opens.
    Accept {
        /// The blob.
        #[arg(value_name = "BLOB")]
        blob: String,
        /// Data directory of the running node.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
}

/// `quorate actor`.
#[derive(Debug, Args)]
pub(crate) struct ActorArgs {
    #[command(subcommand)]
    pub(crate) command: ActorCommand,
    /// Data directory (the node's, if one runs there: blocks then go through it).
    #[arg(long, value_name = "DIR", global = true)]
    pub(crate) data: Option<PathBuf>,
    /// Read the passphrase from this file (first line) instead of $QUORATE_PASSPHRASE or
    /// stdin.
    #[arg(long, value_name = "FILE", global = true)]
    pub(crate) passphrase_file: Option<PathBuf>,
}

/// `quorate actor` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ActorCommand {
    /// Create an actor: keys, a keystore sealed with the passphrase (DIR/actor.keystore),
    /// a signed profile, the first feed entry and, with --handle, the encrypted key backup
    /// that lets you log in anywhere. Prints the actor id and the recovery phrase.
    New {
        /// Handle to log in with elsewhere (publishes the key backup under it).
        #[arg(long, value_name = "HANDLE")]
        handle: Option<String>,
        /// Display name in the profile.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// Log in on this node with only handle and passphrase: the keys come back from the
    /// backup peers keep, the feed from whoever has it. Needs `quorate node` running on
    /// DIR.
    Login {
        /// The handle.
        #[arg(long, value_name = "HANDLE")]
        handle: String,
        /// Seconds to wait for peers.
        #[arg(long, value_name = "SECS", default_value_t = 120)]
        timeout: u64,
    },
    /// Print the recovery phrase (24 words) of the actor in DIR.
    Export,
    /// Recreate the keystore from a recovery phrase (read from stdin, one line).
    Import,
    /// Show the actor in DIR (no passphrase needed).
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Append text posts to the feed and publish the new head.
    Post {
        /// The text.
        #[arg(value_name = "TEXT")]
        text: String,
        /// Post it this many times, numbered (for load tests).
        #[arg(long, value_name = "N", default_value_t = 1)]
        repeat: u32,
    },
}

/// `quorate group`.
#[derive(Debug, Args)]
pub(crate) struct GroupArgs {
    #[command(subcommand)]
    pub(crate) command: GroupCommand,
    /// Data directory of the running node holding the actor's keystore.
    #[arg(long, value_name = "DIR", global = true)]
    pub(crate) data: Option<PathBuf>,
    /// Read the passphrase from this file (first line) instead of $QUORATE_PASSPHRASE or
    /// stdin.
    #[arg(long, value_name = "FILE", global = true)]
    pub(crate) passphrase_file: Option<PathBuf>,
    /// Print JSON.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// `quorate group` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum GroupCommand {
    /// Create a group; prints its id.
    Create {
        /// Display name.
        #[arg(value_name = "NAME")]
        name: String,
        /// A voting rule, `ACTION=NUM/DEN`: the action passes once that fraction of the
        /// members voted YES (repeatable), e.g. `--approve TRIGGER_X=1/10`.
        #[arg(long, value_name = "RULE")]
        approve: Vec<String>,
    },
    /// Give the group a committee (you must be the creator or a full co-admin). Without
    /// `--threshold`: this node alone holds a fresh group key `PK_G`. With `--threshold T`:
    /// a FROST DKG among `--members` (default: every member; `--auto N` picks N by seed
    /// 004's rule) over the group topic, recorded once every member derived the same
    /// `PK_G`; any T of them then sign what passes.
    Committee {
        /// The group id.
        #[arg(value_name = "GROUP")]
        group: String,
        /// FROST: signers needed.
        #[arg(long, value_name = "T")]
        threshold: Option<u16>,
        /// FROST: the committee's actor ids, comma-separated.
        #[arg(
            long,
            value_name = "IDS",
            value_delimiter = ',',
            requires = "threshold"
        )]
        members: Vec<String>,
        /// FROST: N members chosen by SHA-256(epoch ‖ member ‖ group) order.
        #[arg(
            long,
            value_name = "N",
            requires = "threshold",
            conflicts_with = "members"
        )]
        auto: Option<usize>,
    },
    /// Reshare the FROST committee's key to new members and threshold; `PK_G` stays the
    /// same, so outsiders notice nothing.
    Rotate {
        /// The group id.
        #[arg(value_name = "GROUP")]
        group: String,
        /// The new threshold.
        #[arg(long, value_name = "T")]
        threshold: u16,
        /// The new committee's actor ids, comma-separated (default: every member).
        #[arg(long, value_name = "IDS", value_delimiter = ',')]
        members: Vec<String>,
        /// N members chosen by SHA-256(epoch ‖ member ‖ group) order.
        #[arg(long, value_name = "N", conflicts_with = "members")]
        auto: Option<usize>,
    },
    /// Propose an action; prints the proposal id.
    Propose {
        /// The group id.
        #[arg(value_name = "GROUP")]
        group: String,
        /// The action type: TRIGGER_X, REMOVE_MEMBER, …
        #[arg(value_name = "ACTION")]
        action: String,
        /// Data for an external action (passed on to its handler).
        #[arg(long, value_name = "TEXT")]
        text: Option<String>,
        /// The member to remove (REMOVE_MEMBER).
        #[arg(long, value_name = "ACTOR")]
        remove: Option<String>,
        /// ROTATE_COMMITTEE: the new holders, comma-separated.
        #[arg(
            long,
            value_name = "IDS",
            value_delimiter = ',',
            requires = "threshold"
        )]
        committee: Vec<String>,
        /// ROTATE_COMMITTEE: the new threshold.
        #[arg(long, value_name = "T", requires = "committee")]
        threshold: Option<u16>,
        /// Minutes open for votes.
        #[arg(long, value_name = "N", default_value_t = 60)]
        minutes: u64,
    },
    /// Vote on a proposal.
    Vote {
        /// The group id.
        #[arg(value_name = "GROUP")]
        group: String,
        /// The proposal id.
        #[arg(value_name = "PROPOSAL")]
        proposal: String,
        /// yes or no.
        #[arg(value_name = "VOTE", value_parser = ["yes", "no"])]
        vote: String,
    },
    /// The group's proposals: tallies, and attestations once issued (`--json` prints them
    /// in the form `quorate verify` reads).
    Proposals {
        /// The group id.
        #[arg(value_name = "GROUP")]
        group: String,
    },
    /// Invite an actor (by id) to a group you administer: they get a sealed invitation on
    /// the rendezvous topic and join with `quorate group accept`.
    Invite {
        /// The group id.
        #[arg(value_name = "GROUP")]
        group: String,
        /// The invitee's actor id.
        #[arg(value_name = "ACTOR")]
        actor: String,
        /// A note for the invitee.
        #[arg(long, default_value = "")]
        note: String,
        /// Seconds to wait for the invitee's profile.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        timeout: u64,
    },
    /// Invitations you received.
    Invitations,
    /// Accept the invitation to a group (an admin then adds you with a fresh key).
    Accept {
        /// The group id.
        #[arg(value_name = "GROUP")]
        group: String,
    },
    /// Send a message.
    Send {
        /// The group id.
        #[arg(value_name = "GROUP")]
        group: String,
        /// The text.
        #[arg(value_name = "TEXT")]
        text: String,
    },
    /// Print a group's messages, oldest first.
    Read {
        /// The group id.
        #[arg(value_name = "GROUP")]
        group: String,
        /// Only the last N.
        #[arg(long, value_name = "N", default_value_t = 50)]
        last: usize,
    },
    /// Remove a member: the next epoch's key never reaches them.
    Remove {
        /// The group id.
        #[arg(value_name = "GROUP")]
        group: String,
        /// The member's actor id.
        #[arg(value_name = "ACTOR")]
        actor: String,
    },
    /// Ask to leave a group (an admin removes you).
    Leave {
        /// The group id.
        #[arg(value_name = "GROUP")]
        group: String,
    },
    /// The groups the node follows (as a member, or as a blind cache).
    List,
}

/// `quorate verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The group's public key `PK_G` (64 hex characters): all an outsider needs.
    #[arg(long, value_name = "HEX")]
    pub(crate) group_key: String,
    /// The attestation: its block (DAG-CBOR, as the group publishes it) or its JSON form
    /// (`{"group", "epoch", "proposal", "signedMessageHash", "groupSignature", "issuedAt"}`,
    /// as `quorate demo` writes it).
    #[arg(long, value_name = "FILE")]
    pub(crate) attestation: PathBuf,
    /// Also write `pk.der`, `message.bin` and `signature.bin` here and print the OpenSSL
    /// command that checks the same signature independently.
    #[arg(long, value_name = "DIR")]
    pub(crate) openssl: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `quorate demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Native nodes to start, one actor each (3 to 9); the FROST committee is all of them
    /// with threshold ⌊N/2⌋ + 1 (3-of-5 by default).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u16).range(3..=9))]
    pub(crate) nodes: u16,
    /// Directory for the nodes' data: must not exist or be empty (default: a new directory
    /// under the system's temporary directory, kept afterwards).
    #[arg(long, value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,
    /// Print a machine-readable transcript (JSON) on stdout; the narration goes to stderr.
    #[arg(long)]
    pub(crate) json: bool,
    /// Keep running after the scripted flow (until ctrl-c): the nodes, the rendezvous
    /// server and the browser page stay up so tabs can join the demo's group.
    #[arg(long)]
    pub(crate) serve: bool,
    /// Serve the browser page on this address (port 0 picks a free one), if the wasm build
    /// exists (`scripts/build-web`).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) web: SocketAddr,
    /// The repository's web/ directory (the page and its wasm build).
    #[arg(long, value_name = "DIR", default_value = "web")]
    pub(crate) web_dir: PathBuf,
    /// Give up on a step after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 90)]
    pub(crate) step_timeout: u64,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
