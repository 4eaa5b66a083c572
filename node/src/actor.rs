//! `quorate actor`: new, login, export, import, show, post.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use quorate_actor_core::backup::{Locator, LocatorParams, seal_backup};
use quorate_actor_core::feed::{FeedEntry, FeedHead, FeedLog, FeedPage};
use quorate_actor_core::keystore::{KdfParams, Keystore, from_recovery_phrase, recovery_phrase};
use quorate_actor_core::{ActorProfile, ActorSecret, Identity};
use quorate_mesh_proto::mesh::Head;
use quorate_mesh_proto::payloads::Text;
use quorate_mesh_proto::{Block, Cid};
use quorate_node::runtime::actor_files::{self as files, ActorRecord};
use rand_core::OsRng;
use zeroize::Zeroizing;

use crate::Failure;
use crate::cli::{ActorArgs, ActorCommand};

pub(crate) async fn run(args: ActorArgs) -> Result<(), Failure> {
    let dir = args
        .data
        .clone()
        .ok_or_else(|| Failure::Usage("--data DIR is required".into()))?;
    let secret_source = Source {
        file: args.passphrase_file.clone(),
    };
    match args.command {
        ActorCommand::New { handle, name } => new(&dir, &secret_source, handle, name).await,
        ActorCommand::Login { handle, timeout } => {
            login(&dir, &secret_source, &handle, timeout).await
        }
        ActorCommand::Export => export(&dir, &secret_source),
        ActorCommand::Import => import(&dir, &secret_source),
        ActorCommand::Show { json } => show(&dir, json),
        ActorCommand::Post { text, repeat } => post(&dir, &secret_source, &text, repeat).await,
    }
}

/// Where secrets come from.
pub(crate) struct Source {
    pub(crate) file: Option<PathBuf>,
}

impl Source {
    fn passphrase(&self) -> Result<Zeroizing<String>, Failure> {
        if let Some(file) = &self.file {
            let text = Zeroizing::new(
                std::fs::read_to_string(file)
                    .map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?,
            );
            return Ok(Zeroizing::new(text.lines().next().unwrap_or("").to_owned()));
        }
        if let Ok(p) = std::env::var("QUORATE_PASSPHRASE") {
            return Ok(Zeroizing::new(p));
        }
        eprint!("passphrase: ");
        read_line()
    }
}

fn read_line() -> Result<Zeroizing<String>, Failure> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::Failed(format!("reading stdin: {e}")))?;
    Ok(Zeroizing::new(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

pub(crate) fn open_identity(dir: &Path, source: &Source) -> Result<Identity, Failure> {
    let bytes = files::read_keystore(dir)?;
    let passphrase = source.passphrase()?;
    Keystore::open(&bytes, &passphrase)
        .map_err(|e| Failure::Failed(format!("{}: {e}", files::keystore_path(dir).display())))
}

fn seal(dir: &Path, identity: &Identity, passphrase: &str) -> Result<(), Failure> {
    let bytes = Keystore::seal(identity, passphrase, KdfParams::DEFAULT, &mut OsRng)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    files::write_keystore(dir, &bytes).map_err(Failure::Failed)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

async fn new(
    dir: &Path,
    source: &Source,
    handle: Option<String>,
    name: Option<String>,
) -> Result<(), Failure> {
    if files::keystore_path(dir).exists() {
        return Err(Failure::Usage(format!(
            "{} already exists; nothing was changed",
            files::keystore_path(dir).display()
        )));
    }
    let passphrase = source.passphrase()?;
    let identity = create(dir, &passphrase, handle, name).await?;
    println!("actor {}", identity.id());
    println!(
        "recovery phrase: {}",
        recovery_phrase(identity.secret()).as_str()
    );
    eprintln!("Write the recovery phrase down and keep it offline: it is the whole identity.");
    Ok(())
}

/// Creates an actor in `dir`: a fresh identity, its profile and feed published through the
/// node running there (or straight into its store), the keystore sealed with `passphrase`,
/// and with a `handle` an encrypted key backup peers keep (log in anywhere).
pub(crate) async fn create(
    dir: &Path,
    passphrase: &Zeroizing<String>,
    handle: Option<String>,
    name: Option<String>,
) -> Result<Identity, Failure> {
    if files::keystore_path(dir).exists() {
        return Err(Failure::Usage(format!(
            "{} already exists; nothing was changed",
            files::keystore_path(dir).display()
        )));
    }
    let locator = match &handle {
        Some(h) => Some(
            Locator::derive(h, passphrase, &LocatorParams::V1)
                .map_err(|e| Failure::Usage(e.to_string()))?,
        ),
        None => None,
    };
    let identity = Identity::generate(&mut OsRng);
    let metadata: BTreeMap<String, String> =
        name.into_iter().map(|n| ("name".to_owned(), n)).collect();
    let profile =
        ActorProfile::publish(&identity, metadata).map_err(|e| Failure::Usage(e.to_string()))?;
    let mut log = FeedLog::new(identity.id());
    let entry = log
        .append(&identity, now_ms(), vec![*profile.cid()])
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let publication = log
        .publish(&identity, *profile.cid())
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let mut blocks = vec![profile, entry];
    blocks.extend(publication.pages);
    let mut heads = vec![publication.feed_head.mesh_head(*publication.head.cid())];
    let head_cid = *publication.head.cid();
    blocks.push(publication.head);
    if let Some(locator) = &locator {
        let backup = seal_backup(&identity, locator, &mut OsRng)
            .map_err(|e| Failure::Failed(e.to_string()))?;
        heads.push(Head {
            name: locator.head_name(),
            seq: 1,
            cid: *backup.cid(),
        });
        blocks.push(backup);
    }
    seal(dir, &identity, passphrase)?;
    files::publish(dir, &blocks, &heads).await?;
    files::write_record(
        dir,
        &ActorRecord {
            actor: identity.id().to_string(),
            handle,
            head: Some(head_cid.to_string()),
            entries: 1,
        },
    )?;
    Ok(identity)
}

async fn login(dir: &Path, source: &Source, handle: &str, timeout: u64) -> Result<(), Failure> {
    if files::keystore_path(dir).exists() {
        return Err(Failure::Usage(format!(
            "{} already holds an actor; log in on another data directory",
            files::keystore_path(dir).display()
        )));
    }
    let passphrase = source.passphrase()?;
    let reply = files::login(dir, handle, &passphrase, Duration::from_secs(timeout)).await?;
    let mut secret = [0u8; 32];
    hex::decode_to_slice(&reply.secret, &mut secret)
        .map_err(|e| Failure::Failed(format!("node sent a bad secret: {e}")))?;
    let identity = Identity::from_secret(ActorSecret::from_bytes(secret));
    zeroize::Zeroize::zeroize(&mut secret);
    if identity.id().to_string() != reply.actor {
        return Err(Failure::Failed(
            "the node's reply does not match the recovered keys".into(),
        ));
    }
    seal(dir, &identity, &passphrase)?;
    files::write_record(
        dir,
        &ActorRecord {
            actor: reply.actor.clone(),
            handle: Some(handle.to_owned()),
            head: Some(reply.head.clone()),
            entries: reply.entries,
        },
    )?;
    println!("actor {}", reply.actor);
    println!(
        "entries {} payloads {} keys_ms {} total_ms {}",
        reply.entries, reply.payloads, reply.keys_ms, reply.total_ms
    );
    Ok(())
}

fn export(dir: &Path, source: &Source) -> Result<(), Failure> {
    let identity = open_identity(dir, source)?;
    println!("{}", recovery_phrase(identity.secret()).as_str());
    Ok(())
}

fn import(dir: &Path, source: &Source) -> Result<(), Failure> {
    if files::keystore_path(dir).exists() {
        return Err(Failure::Usage(format!(
            "{} already exists; nothing was changed",
            files::keystore_path(dir).display()
        )));
    }
    eprint!("recovery phrase: ");
    let phrase = read_line()?;
    let secret = from_recovery_phrase(&phrase).map_err(|e| Failure::Usage(e.to_string()))?;
    let identity = Identity::from_secret(secret);
    let passphrase = source.passphrase()?;
    seal(dir, &identity, &passphrase)?;
    let record = files::read_record(dir)?.filter(|r| r.actor == identity.id().to_string());
    files::write_record(
        dir,
        &record.unwrap_or(ActorRecord {
            actor: identity.id().to_string(),
            ..ActorRecord::default()
        }),
    )?;
    println!("actor {}", identity.id());
    Ok(())
}

fn show(dir: &Path, json: bool) -> Result<(), Failure> {
    let bytes = files::read_keystore(dir)?;
    let info = Keystore::inspect(&bytes)
        .map_err(|e| Failure::Failed(format!("{}: {e}", files::keystore_path(dir).display())))?;
    let record = files::read_record(dir)?.unwrap_or_default();
    if json {
        let value = serde_json::json!({
            "actor": info.actor.to_string(),
            "handle": record.handle,
            "head": record.head,
            "entries": record.entries,
            "keystore": { "version": info.version, "kdf": info.params.to_string() },
        });
        println!("{value}");
    } else {
        println!("actor     {}", info.actor);
        println!(
            "handle    {}",
            record.handle.as_deref().unwrap_or("(none: no key backup)")
        );
        println!("feed head {}", record.head.as_deref().unwrap_or("(none)"));
        println!("entries   {}", record.entries);
        println!("keystore  v{} argon2id {}", info.version, info.params);
    }
    Ok(())
}

async fn post(dir: &Path, source: &Source, text: &str, repeat: u32) -> Result<(), Failure> {
    let identity = open_identity(dir, source)?;
    let record = files::read_record(dir)?
        .ok_or_else(|| Failure::Usage(format!("no {} in {}", files::ACTOR_FILE, dir.display())))?;
    let head_cid: Cid = record
        .head
        .as_deref()
        .ok_or_else(|| {
            Failure::Usage("this actor has no feed yet (log in or create it first)".into())
        })?
        .parse()
        .map_err(|e| Failure::Failed(format!("actor.json: bad head: {e}")))?;
    let head_block = files::get(dir, &head_cid).await?;
    let head = FeedHead::verify_block(&head_block)
        .map_err(|e| Failure::Failed(format!("feed head: {e}")))?;
    if head.actor != identity.id() {
        return Err(Failure::Failed("the feed head is another actor's".into()));
    }
    let mut entries = Vec::new();
    for (index, page_cid) in head.pages.iter().enumerate() {
        let block = files::get(dir, page_cid).await?;
        let page = FeedPage::verify_block(&block, &head, index)
            .map_err(|e| Failure::Failed(format!("feed page: {e}")))?;
        entries.extend(page.entries);
    }
    let last_block = files::get(dir, &head.entry).await?;
    let last = FeedEntry::verify_block(&last_block)
        .map_err(|e| Failure::Failed(format!("last entry: {e}")))?;
    let mut log =
        FeedLog::resume_from(&head, entries, last).map_err(|e| Failure::Failed(e.to_string()))?;
    let mut blocks = Vec::new();
    let now = now_ms();
    for i in 0..repeat {
        let body = if repeat == 1 {
            text.to_owned()
        } else {
            format!("{text} {i}")
        };
        let post = Block::encode(&Text { body }).map_err(|e| Failure::Failed(e.to_string()))?;
        let entry = log
            .append(&identity, now, vec![*post.cid()])
            .map_err(|e| Failure::Failed(e.to_string()))?;
        blocks.push(post);
        blocks.push(entry);
    }
    let publication = log
        .publish(&identity, head.profile)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    blocks.extend(publication.pages);
    let new_head = publication.feed_head.mesh_head(*publication.head.cid());
    let new_head_cid = *publication.head.cid();
    blocks.push(publication.head);
    files::publish(dir, &blocks, &[new_head]).await?;
    files::write_record(
        dir,
        &ActorRecord {
            head: Some(new_head_cid.to_string()),
            entries: log.len() as u64,
            ..record
        },
    )?;
    println!("entries {} head {}", log.len(), new_head_cid);
    Ok(())
}
