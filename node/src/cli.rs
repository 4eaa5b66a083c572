//! The command line: one subcommand per job.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// Prints `listening on ADDR` as its first line on stdout, then serves until SIGINT or
    /// SIGTERM, when it closes every connection and exits 0.
    Rendezvous(RendezvousArgs),
    /// Run a node: join the mesh through a rendezvous server, serve and fetch blocks,
    /// persist them to a data directory.
    Node(NodeArgs),
    /// Store a file in a node's data directory and print its CID.
    Put(PutArgs),
    /// Fetch a block by CID (from the local store, else from the mesh) and write it out.
    Get(GetArgs),
    /// Verify a signed block by CID: its hash, its envelope and its Ed25519 signature.
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
}

/// `quorate node`.
#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    /// Rendezvous server for first contact, e.g. ws://127.0.0.1:7480.
    #[arg(long, value_name = "URL")]
    pub(crate) rendezvous: Option<String>,
    /// Room to join on the rendezvous server.
    #[arg(long, value_name = "NAME", default_value = "quorate")]
    pub(crate) room: String,
    /// Data directory: the block store and the node key live here.
    #[arg(long, value_name = "DIR")]
    pub(crate) data: PathBuf,
    /// Address the WebRTC (UDP) sockets bind to.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) listen: SocketAddr,
    /// ICE (STUN/TURN) server URL; repeat for several. None by default.
    #[arg(long = "ice-server", value_name = "URL")]
    pub(crate) ice_servers: Vec<String>,
}

/// `quorate put`.
#[derive(Debug, Args)]
pub(crate) struct PutArgs {
    /// The file to store.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Data directory of the node to store it in.
    #[arg(long, value_name = "DIR")]
    pub(crate) data: PathBuf,
}

/// `quorate get`.
#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// The block's CID (bafy…).
    #[arg(value_name = "CID")]
    pub(crate) cid: String,
    /// Data directory of the node to read from.
    #[arg(long, value_name = "DIR")]
    pub(crate) data: PathBuf,
    /// Rendezvous server to find peers through when the block is not local.
    #[arg(long, value_name = "URL")]
    pub(crate) rendezvous: Option<String>,
    /// Write the bytes here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

/// `quorate verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The signed block's CID (an attestation, a vote, an envelope).
    #[arg(value_name = "CID")]
    pub(crate) cid: String,
    /// Data directory holding the block.
    #[arg(long, value_name = "DIR")]
    pub(crate) data: PathBuf,
}

/// `quorate demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Native nodes to start.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub(crate) nodes: usize,
    /// Directory for the nodes' data (a temporary one by default).
    #[arg(long, value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
