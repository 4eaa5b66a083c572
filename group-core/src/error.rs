//! Why a group object is not acceptable.

use quorate_mesh_proto::{DecodeError, EncodeError, VerifyError};

/// Why one block is not a valid group object on its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// Not a canonical block of the expected type and version.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Could not be encoded (too large for a block).
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The object-level signature is missing or does not verify.
    #[error(transparent)]
    Envelope(#[from] VerifyError),
    /// A signature field does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// Signed by a key other than the one the object names, or an id that is not the hash
    /// of its key.
    #[error("signed by the wrong key, or an id that is not its key's hash")]
    WrongSigner,
    /// Bytes that are not a public key.
    #[error("not a valid public key")]
    BadKey,
    /// Over a size limit.
    #[error("{0} over its size limit")]
    TooLarge(&'static str),
    /// A list that must be strictly increasing is not.
    #[error("{0} not strictly sorted")]
    NotSorted(&'static str),
    /// Belongs to another group.
    #[error("belongs to another group")]
    WrongGroup,
    /// Names another epoch than the one it is used for.
    #[error("belongs to another epoch")]
    WrongEpoch,
    /// Breaks a rule of its type.
    #[error("invalid: {0}")]
    Invalid(&'static str),
    /// Serialisation failed (a value DAG-CBOR cannot hold).
    #[error("cannot encode: {0}")]
    Serialize(String),
}
