//! The stored record, version 1. Key: the CID's 36-byte binary form. Value:
//!
//! ```text
//! { v: 1,                     // record version (a number)
//!   bytes: Uint8Array,        // the block's bytes, re-hashed against the key on load
//!   class: 0..=10,            // PinClass::code
//!   expires_at: BigInt|null,  // deadline in Instant microseconds (Cache and Retained classes)
//!   seq: BigInt }             // LRU recency at the last write (larger = more recent)
//! ```
//!
//! BigInts because both are `u64` and a JS number loses precision past 2^53
//! (`Instant::MAX` is a legal deadline).

use js_sys::{ArrayBuffer, Object, Reflect, Uint8Array};
use quorate_mesh_blockstore::{BlockMeta, PinClass};
use quorate_mesh_proto::{Block, BlockError, Cid, CidError, Instant};
use wasm_bindgen::{JsCast, JsValue};

/// The record version this code reads and writes.
pub(crate) const RECORD_VERSION: u32 = 1;

/// Why a stored record was skipped (and deleted) at open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The key is not binary, or not a CID this project accepts.
    #[error("the key is not a CID: {0}")]
    BadKey(String),
    /// The value is not an object.
    #[error("the value is not a record object")]
    NotARecord,
    /// The record's `v` is not a version this code reads.
    #[error("unknown record version {0}")]
    UnknownVersion(String),
    /// A field is missing or of the wrong type.
    #[error("field `{0}` is missing or malformed")]
    BadField(&'static str),
    /// The bytes are too large or do not hash to the key's CID.
    #[error("the bytes do not match the key: {0}")]
    Block(#[from] BlockError),
}

/// A record read back and checked.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) block: Block,
    pub(crate) class: PinClass,
    pub(crate) expires_at: Option<Instant>,
    pub(crate) seq: u64,
}

/// The key of `cid`.
pub(crate) fn key(cid: &Cid) -> Uint8Array {
    Uint8Array::from(&cid.to_bytes()[..])
}

/// Builds record values. Field names are made into JS strings once per encoder, not
/// once per record (a flush encodes thousands).
#[derive(Debug)]
pub(crate) struct Encoder {
    v: JsValue,
    bytes: JsValue,
    class: JsValue,
    expires_at: JsValue,
    seq: JsValue,
    version: JsValue,
}

impl Encoder {
    pub(crate) fn new() -> Self {
        Encoder {
            v: JsValue::from_str("v"),
            bytes: JsValue::from_str("bytes"),
            class: JsValue::from_str("class"),
            expires_at: JsValue::from_str("expires_at"),
            seq: JsValue::from_str("seq"),
            version: JsValue::from(RECORD_VERSION),
        }
    }

    /// The value stored for `block` with `meta`.
    pub(crate) fn encode(&self, block: &Block, meta: &BlockMeta) -> Result<JsValue, JsValue> {
        let record = Object::new();
        Reflect::set(&record, &self.v, &self.version)?;
        Reflect::set(&record, &self.bytes, &Uint8Array::from(&block.bytes()[..]))?;
        Reflect::set(&record, &self.class, &JsValue::from(meta.class.code()))?;
        let expires_at = meta
            .expires_at
            .map_or(JsValue::NULL, |at| JsValue::from(at.as_micros()));
        Reflect::set(&record, &self.expires_at, &expires_at)?;
        Reflect::set(&record, &self.seq, &JsValue::from(meta.last_used))?;
        Ok(record.into())
    }
}

/// Reads and checks one record: the key must be a CID and the bytes must hash to it.
pub(crate) fn decode(key: &JsValue, value: &JsValue) -> Result<Record, RecordError> {
    let cid = Cid::from_bytes(&key_bytes(key)?)
        .map_err(|e: CidError| RecordError::BadKey(e.to_string()))?;
    if !value.is_object() {
        return Err(RecordError::NotARecord);
    }
    let field = |name: &'static str| {
        Reflect::get(value, &JsValue::from_str(name)).map_err(|_| RecordError::BadField(name))
    };
    let version = field("v")?;
    if version.as_f64() != Some(f64::from(RECORD_VERSION)) {
        return Err(RecordError::UnknownVersion(format!("{version:?}")));
    }
    let bytes = field("bytes")?
        .dyn_into::<Uint8Array>()
        .map_err(|_| RecordError::BadField("bytes"))?
        .to_vec();
    let class_code = field("class")?
        .as_f64()
        .ok_or(RecordError::BadField("class"))?;
    let class = PinClass::ALL
        .into_iter()
        .find(|c| f64::from(c.code()) == class_code)
        .ok_or(RecordError::BadField("class"))?;
    let expires_at = field("expires_at")?;
    let expires_at = if expires_at.is_null() || expires_at.is_undefined() {
        None
    } else {
        Some(Instant::from_micros(
            u64::try_from(expires_at).map_err(|_| RecordError::BadField("expires_at"))?,
        ))
    };
    let seq = u64::try_from(field("seq")?).map_err(|_| RecordError::BadField("seq"))?;
    let block = Block::from_untrusted(&cid, bytes)?;
    Ok(Record {
        block,
        class,
        expires_at,
        seq,
    })
}

/// The bytes of a binary key (IndexedDB hands binary keys back as `ArrayBuffer`s).
fn key_bytes(key: &JsValue) -> Result<Vec<u8>, RecordError> {
    if let Some(buffer) = key.dyn_ref::<ArrayBuffer>() {
        return Ok(Uint8Array::new(buffer).to_vec());
    }
    if let Some(view) = key.dyn_ref::<Uint8Array>() {
        return Ok(view.to_vec());
    }
    Err(RecordError::BadKey(format!("not a binary key: {key:?}")))
}

/// A key for reports: hex if binary, else its debug form.
pub(crate) fn key_text(key: &JsValue) -> String {
    match key_bytes(key) {
        Ok(bytes) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        Err(_) => format!("{key:?}"),
    }
}
