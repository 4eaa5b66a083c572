//! The node key file: `DIR/node.key`, the 32-byte Ed25519 secret of the node's identity.
//!
//! Created on first start from OS randomness, written to a temporary file and renamed into
//! place (so a crash never leaves half a key), readable by the owner only on Unix. A file
//! of the wrong size is refused with a message naming it; it is never overwritten.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use quorate_mesh_proto::mesh::NodeKey;
use rand_core::{OsRng, RngCore as _};

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "node.key";

/// Why the node key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but does not hold a key.
    #[error(
        "{path}: expected a 32-byte node key, found {len} bytes; the file is left as it is \
         (move it away to start with a new node identity)"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
}

/// Loads the node key from `dir`, creating it (and `dir`) if absent. Returns the key and
/// whether it was created.
///
/// # Errors
/// [`KeyFileError`] when the directory or file cannot be read or written, or the file is
/// not a key.
pub fn load_or_create(dir: &Path) -> Result<(NodeKey, bool), KeyFileError> {
    let path = dir.join(KEY_FILE);
    let io = |source| KeyFileError::Io {
        path: path.clone(),
        source,
    };
    match fs::read(&path) {
        Ok(bytes) => {
            let secret =
                <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyFileError::Corrupt {
                    path: path.clone(),
                    len: bytes.len(),
                })?;
            Ok((NodeKey::from_secret(secret), false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(io)?;
            let mut secret = [0u8; 32];
            OsRng.fill_bytes(&mut secret);
            let tmp = dir.join(format!("{KEY_FILE}.tmp"));
            write_private(&tmp, &secret).map_err(|source| KeyFileError::Io {
                path: tmp.clone(),
                source,
            })?;
            fs::rename(&tmp, &path).map_err(io)?;
            Ok((NodeKey::from_secret(secret), true))
        }
        Err(e) => Err(io(e)),
    }
}

/// Writes `bytes` to `path`, readable by the owner only (0600), synced.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        let (k1, created) = load_or_create(&sub).unwrap();
        assert!(created);
        let (k2, created) = load_or_create(&sub).unwrap();
        assert!(!created);
        assert_eq!(k1.id(), k2.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(sub.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_corrupt_key_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        fs::write(&path, b"not a key").unwrap();
        let err = load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, KeyFileError::Corrupt { len: 9, .. }), "{err}");
        assert!(err.to_string().contains("node.key"));
        assert_eq!(fs::read(&path).unwrap(), b"not a key");
    }
}
