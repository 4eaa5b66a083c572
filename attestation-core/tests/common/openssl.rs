//! OpenSSL's Ed25519 (`openssl pkeyutl -verify -rawin`) as an independent verifier.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The Ed25519 SubjectPublicKeyInfo prefix (RFC 8410): `SEQUENCE { SEQUENCE { OID
/// 1.3.101.112 } BIT STRING }`, then the 32 key bytes.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Whether `openssl pkeyutl -verify -rawin` accepts `signature` on `message` under `pk`.
pub(crate) fn openssl_verifies(pk: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("quorate-openssl-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("pk.der");
    let msg = dir.join("msg.bin");
    let sig = dir.join("sig.bin");
    std::fs::write(&key, [&SPKI_PREFIX[..], pk].concat()).unwrap();
    std::fs::write(&msg, message).unwrap();
    std::fs::write(&sig, signature).unwrap();
    let out = Command::new("openssl")
        .args([
            "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-rawin", "-inkey",
        ])
        .arg(&key)
        .arg("-in")
        .arg(&msg)
        .arg("-sigfile")
        .arg(&sig)
        .output()
        .expect("openssl is installed (.ci/run installs it)");
    let _ = std::fs::remove_dir_all(&dir);
    out.status.success()
}
