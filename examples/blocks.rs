//! Blocks end to end on disk: build content-addressed blocks, store them in the persistent
//! redb store, close it, reopen it, and read every block back by CID.
//!
//! ```text
//! cargo run --release --example blocks                 # uses a fresh temporary directory
//! cargo run --release --example blocks -- --data DIR   # keeps the store in DIR
//! ```

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line example"
)]

use std::path::PathBuf;
use std::process::ExitCode;

use quorate_mesh_blockstore::{BlockStore, PutOptions, RedbStore, StoreConfig};
use quorate_mesh_proto::ed25519_dalek::SigningKey;
use quorate_mesh_proto::payloads::{FileManifest, Text, chunk_file};
use quorate_mesh_proto::{Block, Cid, Codec, PinClass};

const USAGE: &str = "usage: blocks [--data DIR]\n\
    Builds blocks, stores them in a redb block store in DIR (default: a new temporary\n\
    directory), reopens the store and prints every CID read back.";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args() -> Result<Option<PathBuf>, String> {
    let mut args = std::env::args().skip(1);
    let mut data = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--data" => {
                let dir = args.next().ok_or("--data needs a directory")?;
                data = Some(PathBuf::from(dir));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(data)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dir = match parse_args()? {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!("quorate-blocks-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", dir.display()))?;
    let path = dir.join("blocks.redb");

    // A fixed example key so the output is reproducible; real nodes draw one from the OS.
    let key = SigningKey::from_bytes(&[42; 32]);
    let note = Block::encode(&Text {
        body: "hello, mesh".into(),
    })?;
    let signed = Block::encode_signed(
        &Text {
            body: "signed by a node key".into(),
        },
        &key,
    )?;
    let file: Vec<u8> = (0..3_000_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let (manifest, chunks) = chunk_file("counting.bin", Some("application/octet-stream"), &file)?;

    println!("store: {}", path.display());
    {
        let mut store = RedbStore::open(&path, StoreConfig::default())?;
        let mut batch = vec![
            (note.clone(), PutOptions::cache()),
            (signed.clone(), PutOptions::pinned(PinClass::User)),
            (manifest.clone(), PutOptions::pinned(PinClass::User)),
        ];
        batch.extend(
            chunks
                .iter()
                .map(|c| (c.clone(), PutOptions::pinned(PinClass::User))),
        );
        for result in store.put_many(&batch)? {
            result?;
        }
        let stats = store.stats();
        println!(
            "wrote {} blocks, {} bytes; closing the store",
            stats.blocks, stats.bytes
        );
    }

    let mut store = RedbStore::open(&path, StoreConfig::default())?;
    println!("reopened: {} blocks", store.stats().blocks);
    let mut cids: Vec<Cid> = vec![*note.cid(), *signed.cid(), *manifest.cid()];
    cids.extend(chunks.iter().map(|c| *c.cid()));
    for cid in cids {
        let block = store
            .get(&cid)?
            .ok_or_else(|| format!("{cid} missing after reopen"))?;
        println!("{cid}  {:>8} B  {}", block.len(), describe(&block)?);
    }
    Ok(())
}

fn describe(block: &Block) -> Result<String, Box<dyn std::error::Error>> {
    if block.cid().codec() == Codec::Raw {
        return Ok("raw chunk".into());
    }
    match block.header()?.kind.as_str() {
        "text" => {
            let env = block.decode::<Text>()?;
            let signer = match env.verify() {
                Ok(key) => format!(", signed by {}", hex8(&key.to_bytes())),
                Err(_) => String::new(),
            };
            Ok(format!("text {:?}{signer}", env.payload.body))
        }
        "file" => {
            let m = block.decode::<FileManifest>()?.payload;
            Ok(format!(
                "file {:?}, {} bytes in {} chunks",
                m.name,
                m.size,
                m.chunks.len()
            ))
        }
        other => Ok(format!("block of type {other:?}")),
    }
}

fn hex8(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
