//! Canonical DAG-CBOR of signed parts.

use serde::Serialize;

use crate::error::ObjectError;

/// The canonical DAG-CBOR bytes of `value` (what signatures cover).
pub(crate) fn canonical<T: Serialize>(value: &T) -> Result<Vec<u8>, ObjectError> {
    serde_ipld_dagcbor::to_vec(value).map_err(|e| ObjectError::Serialize(e.to_string()))
}
