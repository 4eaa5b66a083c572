//! Execution markers in redb (`DIR/executions.redb`): `Started` is committed — durably —
//! before a job's effect begins, `Done` once it completed, so a restart never runs a done
//! job again and resumes an interrupted one (with the same idempotency key).
//!
//! The same database keeps the FROST nonce-use records: a session this node committed to
//! (1) or signed in (2), and the counter mixed into every new nonce, both committed before
//! a commitment or share leaves the node.

use std::path::Path;

use quorate_attestation_core::execute::{Marker, MarkerStore};
use quorate_attestation_core::frost::sign::{NonceStore, NonceUse};
use quorate_governance_core::ProposalId;
use redb::{Database, ReadableDatabase as _, ReadableTable as _, TableDefinition};

/// proposal CID bytes → 1 (`Started`) or 2 (`Done`).
const TABLE: TableDefinition<'_, &[u8], u8> = TableDefinition::new("executions");
/// FROST session id → 1 (`Committed`) or 2 (`Signed`).
const NONCES: TableDefinition<'_, &[u8], u8> = TableDefinition::new("frost-nonces");
/// "counter" → the last nonce counter handed out.
const COUNTER: TableDefinition<'_, &str, u64> = TableDefinition::new("frost-counter");

/// The node's execution markers.
pub(crate) struct RedbMarkers {
    db: Database,
}

impl std::fmt::Debug for RedbMarkers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedbMarkers")
    }
}

impl RedbMarkers {
    /// Opens (or creates) the markers database in `dir`.
    pub(crate) fn open(dir: &Path) -> Result<RedbMarkers, String> {
        let path = dir.join("executions.redb");
        let db =
            Database::create(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let tx = db.begin_write().map_err(|e| e.to_string())?;
        tx.open_table(TABLE).map_err(|e| e.to_string())?;
        tx.open_table(NONCES).map_err(|e| e.to_string())?;
        tx.open_table(COUNTER).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        Ok(RedbMarkers { db })
    }
}

impl MarkerStore for RedbMarkers {
    type Error = String;

    fn get(&self, id: &ProposalId) -> Result<Option<Marker>, String> {
        let tx = self.db.begin_read().map_err(|e| e.to_string())?;
        let table = tx.open_table(TABLE).map_err(|e| e.to_string())?;
        let value = table
            .get(id.to_bytes().as_slice())
            .map_err(|e| e.to_string())?
            .map(|v| v.value());
        Ok(match value {
            Some(2) => Some(Marker::Done),
            Some(_) => Some(Marker::Started),
            None => None,
        })
    }

    fn put(&mut self, id: &ProposalId, marker: Marker) -> Result<(), String> {
        let code = match marker {
            Marker::Started => 1u8,
            Marker::Done => 2u8,
        };
        let tx = self.db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = tx.open_table(TABLE).map_err(|e| e.to_string())?;
            table
                .insert(id.to_bytes().as_slice(), code)
                .map_err(|e| e.to_string())?;
        }
        // redb commits durably (fsync) by default.
        tx.commit().map_err(|e| e.to_string())
    }
}

impl NonceStore for RedbMarkers {
    type Error = String;

    fn reserve(&mut self, session: &[u8; 32]) -> Result<Option<u64>, String> {
        let tx = self.db.begin_write().map_err(|e| e.to_string())?;
        let counter = {
            let mut nonces = tx.open_table(NONCES).map_err(|e| e.to_string())?;
            if nonces
                .get(session.as_slice())
                .map_err(|e| e.to_string())?
                .is_some()
            {
                return Ok(None);
            }
            nonces
                .insert(session.as_slice(), 1u8)
                .map_err(|e| e.to_string())?;
            let mut counter = tx.open_table(COUNTER).map_err(|e| e.to_string())?;
            let next = counter
                .get("counter")
                .map_err(|e| e.to_string())?
                .map_or(0, |v| v.value())
                .checked_add(1)
                .ok_or("the nonce counter is exhausted")?;
            counter.insert("counter", next).map_err(|e| e.to_string())?;
            next
        };
        tx.commit().map_err(|e| e.to_string())?;
        Ok(Some(counter))
    }

    fn get(&self, session: &[u8; 32]) -> Result<Option<NonceUse>, String> {
        let tx = self.db.begin_read().map_err(|e| e.to_string())?;
        let table = tx.open_table(NONCES).map_err(|e| e.to_string())?;
        let value = table
            .get(session.as_slice())
            .map_err(|e| e.to_string())?
            .map(|v| v.value());
        Ok(match value {
            Some(2) => Some(NonceUse::Signed),
            Some(_) => Some(NonceUse::Committed),
            None => None,
        })
    }

    fn mark_signed(&mut self, session: &[u8; 32]) -> Result<(), String> {
        let tx = self.db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = tx.open_table(NONCES).map_err(|e| e.to_string())?;
            table
                .insert(session.as_slice(), 2u8)
                .map_err(|e| e.to_string())?;
        }
        tx.commit().map_err(|e| e.to_string())
    }
}
