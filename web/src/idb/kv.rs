//! [`KvStore`]: a few small records (string keys, structured-clone values) in their own
//! IndexedDB database, beside a block database: what a node keeps about itself that is
//! not a block (the actor's keystore and the heads it announces).
//!
//! Everything is read once at [`KvStore::open`] and kept in memory; each write is one
//! `readwrite` transaction, issued by [`KvStore::start_write`] and awaited without a
//! borrow of the store ([`KvWrite::wait`]), like the block store's flushes.

use std::collections::BTreeMap;

use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::IdbTransaction;

use super::js::{self, EventWait, describe, dom_error};
use super::{Connection, Durability, IdbError};

/// The one object store of a key-value database.
const KV_STORE: &str = "records";

/// A small key-value database; see the [module docs](self).
#[derive(Debug)]
pub struct KvStore {
    name: String,
    db: Connection,
    records: BTreeMap<String, JsValue>,
}

/// A write issued by [`KvStore::start_write`], committing in the background.
#[derive(Debug)]
pub struct KvWrite {
    name: String,
    tx: IdbTransaction,
    done: EventWait,
}

impl KvWrite {
    /// Waits for the transaction to commit.
    ///
    /// # Errors
    /// [`IdbError::Flush`] if it aborted (nothing was written).
    pub async fn wait(self) -> Result<(), IdbError> {
        match self.done.next().await? {
            kind if kind == "complete" => Ok(()),
            _ => Err(IdbError::Flush {
                name: self.name,
                ops: 1,
                reason: dom_error(self.tx.error(), "the transaction aborted"),
            }),
        }
    }
}

impl KvStore {
    /// Opens (or creates) the database `name` and reads every record.
    ///
    /// # Errors
    /// [`IdbError::Unavailable`], [`IdbError::Open`], [`IdbError::Blocked`],
    /// [`IdbError::Read`].
    pub async fn open(name: &str) -> Result<KvStore, IdbError> {
        let db = Connection(js::open_with_store(name, KV_STORE).await?);
        let read_err = |reason: String| IdbError::Read {
            name: name.to_owned(),
            reason,
        };
        let tx =
            db.0.transaction_with_str(KV_STORE)
                .map_err(|e| read_err(describe(&e)))?;
        let store = tx
            .object_store(KV_STORE)
            .map_err(|e| read_err(describe(&e)))?;
        let keys = store.get_all_keys().map_err(|e| read_err(describe(&e)))?;
        let values = store.get_all().map_err(|e| read_err(describe(&e)))?;
        let kind = EventWait::on(&tx, &["complete", "abort"])?.next().await?;
        if kind != "complete" {
            return Err(read_err(dom_error(
                tx.error(),
                "the read transaction aborted",
            )));
        }
        let as_array = |request: &web_sys::IdbRequest| {
            request
                .result()
                .map_err(|e| read_err(describe(&e)))?
                .dyn_into::<Array>()
                .map_err(|_| IdbError::Internal("getAll/getAllKeys did not return an array"))
        };
        let (keys, values) = (as_array(&keys)?, as_array(&values)?);
        // Keys that are not strings are not ours: ignored (and left alone).
        let records = keys
            .iter()
            .zip(values.iter())
            .filter_map(|(k, v)| k.as_string().map(|k| (k, v)))
            .collect();
        Ok(KvStore {
            name: name.to_owned(),
            db,
            records,
        })
    }

    /// The record under `key`, as read at open or last written.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&JsValue> {
        self.records.get(key)
    }

    /// Sets (`Some`) or deletes (`None`) the record under `key`, in memory at once and in
    /// IndexedDB by the returned write.
    ///
    /// # Errors
    /// [`IdbError::Flush`] if the transaction cannot be started (the memory copy is
    /// changed anyway; write it again later).
    pub fn start_write(&mut self, key: &str, value: Option<JsValue>) -> Result<KvWrite, IdbError> {
        match &value {
            Some(v) => self.records.insert(key.to_owned(), v.clone()),
            None => self.records.remove(key),
        };
        let err = |e: JsValue| IdbError::Flush {
            name: self.name.clone(),
            ops: 1,
            reason: describe(&e),
        };
        let tx = js::transaction_on(&self.db.0, KV_STORE, "readwrite", Durability::Strict)
            .map_err(err)?;
        let done = EventWait::on(&tx, &["complete", "abort"])?;
        let store = tx.object_store(KV_STORE).map_err(err)?;
        let key = JsValue::from_str(key);
        let issued = match value {
            Some(v) => store.put_with_key(&v, &key),
            None => store.delete(&key),
        };
        if let Err(e) = issued {
            let _ = tx.abort();
            return Err(err(e));
        }
        Ok(KvWrite {
            name: self.name.clone(),
            tx,
            done,
        })
    }

    /// The database name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}
