//! `quorate verify --group-key HEX --attestation FILE`: the outsider's check. Needs only
//! `PK_G` and the attestation; `--openssl DIR` also writes what OpenSSL needs to check the
//! same Ed25519 signature independently.

use std::path::Path;

use quorate_attestation_core::{GroupAttestation, verify_attestation};
use quorate_mesh_proto::{Block, Cid, Codec};
use serde::{Deserialize, Serialize};

use crate::Failure;
use crate::cli::VerifyArgs;

/// Largest attestation file read.
const MAX_FILE: u64 = 64 * 1024;
/// The Ed25519 SubjectPublicKeyInfo prefix (RFC 8410), then the 32 key bytes.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The JSON form of an attestation (hex strings; the proposal as a CID string).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AttestationJson {
    pub(crate) group: String,
    pub(crate) epoch: u64,
    pub(crate) proposal: String,
    pub(crate) signed_message_hash: String,
    pub(crate) group_signature: String,
    pub(crate) issued_at: u64,
}

impl AttestationJson {
    pub(crate) fn of(a: &GroupAttestation) -> AttestationJson {
        AttestationJson {
            group: a.group.to_string(),
            epoch: a.epoch,
            proposal: a.proposal.to_string(),
            signed_message_hash: hex::encode(a.signed_message_hash),
            group_signature: hex::encode(a.group_signature),
            issued_at: a.issued_at,
        }
    }

    /// The JSON form of what a node reports about an attestation.
    pub(crate) fn of_view(v: &quorate_attestation_core::host::AttestationView) -> AttestationJson {
        AttestationJson {
            group: v.group.clone(),
            epoch: v.epoch,
            proposal: v.proposal.clone(),
            signed_message_hash: v.signed_message_hash.clone(),
            group_signature: v.group_signature.clone(),
            issued_at: v.issued_at,
        }
    }

    fn parse(self) -> Result<GroupAttestation, String> {
        let bytes = |what: &str, text: &str, out: &mut [u8]| {
            hex::decode_to_slice(text, out)
                .map_err(|_| format!("{what} is not {} hex characters", out.len() * 2))
        };
        let mut signed_message_hash = [0u8; 32];
        let mut group_signature = [0u8; 64];
        bytes(
            "signedMessageHash",
            &self.signed_message_hash,
            &mut signed_message_hash,
        )?;
        bytes(
            "groupSignature",
            &self.group_signature,
            &mut group_signature,
        )?;
        Ok(GroupAttestation {
            group: self
                .group
                .parse()
                .map_err(|_| "group is not a group id (64 hex characters)".to_owned())?,
            epoch: self.epoch,
            proposal: self
                .proposal
                .parse()
                .map_err(|e| format!("proposal is not a CID: {e}"))?,
            signed_message_hash,
            group_signature,
            issued_at: self.issued_at,
        })
    }
}

pub(crate) fn read(path: &Path) -> Result<GroupAttestation, Failure> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    if meta.len() > MAX_FILE {
        return Err(Failure::Usage(format!(
            "{} is {} bytes: an attestation is under {MAX_FILE}",
            path.display(),
            meta.len()
        )));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    if bytes.first() == Some(&b'{') {
        let json: AttestationJson = serde_json::from_slice(&bytes)
            .map_err(|e| Failure::Failed(format!("not an attestation in JSON: {e}")))?;
        return json
            .parse()
            .map_err(|e| Failure::Failed(format!("bad attestation JSON: {e}")));
    }
    let block = Block::from_untrusted(&Cid::of(Codec::DagCbor, &bytes), bytes)
        .map_err(|e| Failure::Failed(format!("not a block: {e}")))?;
    GroupAttestation::decode(&block)
        .map_err(|e| Failure::Failed(format!("not an attestation block: {e}")))
}

pub(crate) fn write_openssl(
    dir: &Path,
    key: &[u8; 32],
    a: &GroupAttestation,
) -> Result<String, Failure> {
    let fail = |e: std::io::Error| Failure::Failed(format!("writing to {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(fail)?;
    std::fs::write(dir.join("pk.der"), [&SPKI_PREFIX[..], key].concat()).map_err(fail)?;
    std::fs::write(dir.join("message.bin"), a.signed_message()).map_err(fail)?;
    std::fs::write(dir.join("signature.bin"), a.group_signature).map_err(fail)?;
    let d = dir.display();
    Ok(format!(
        "openssl pkeyutl -verify -pubin -keyform DER -inkey {d}/pk.der -rawin -in {d}/message.bin -sigfile {d}/signature.bin"
    ))
}

/// `PK_G` from hex.
pub(crate) fn group_key(hex_key: &str) -> Result<[u8; 32], Failure> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(hex_key.trim(), &mut key).map_err(|_| {
        Failure::Usage("--group-key is not 64 hex characters (an Ed25519 public key)".into())
    })?;
    Ok(key)
}

pub(crate) fn run(args: &VerifyArgs) -> Result<(), Failure> {
    let key = group_key(&args.group_key)?;
    let attestation = read(&args.attestation)?;
    let result = verify_attestation(&key, &attestation);
    let openssl = match &args.openssl {
        Some(dir) => Some(write_openssl(dir, &key, &attestation)?),
        None => None,
    };
    if args.json {
        let out = serde_json::json!({
            "valid": result.is_ok(),
            "error": result.as_ref().err().map(ToString::to_string),
            "attestation": AttestationJson::of(&attestation),
            "openssl": openssl,
        });
        println!("{out}");
    } else {
        match &result {
            Ok(()) => println!(
                "valid: group {} attests proposal {} (epoch {}, issued at {} ms) under key {}",
                attestation.group,
                attestation.proposal,
                attestation.epoch,
                attestation.issued_at,
                hex::encode(key)
            ),
            Err(e) => println!("INVALID: {e}"),
        }
        if let Some(command) = openssl {
            println!("check it with OpenSSL too:\n  {command}");
        }
    }
    result.map_err(|e| Failure::Failed(format!("the attestation does not verify: {e}")))
}
