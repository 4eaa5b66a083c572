//! The thin layer over the browser's IndexedDB API: find the factory, open and delete
//! databases, wait for events as futures, and turn JS errors into words.
//!
//! Nothing here unwraps a JS value: every shape the browser could hand back that we did not
//! expect becomes an [`IdbError`].

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DomException, Event, EventTarget, IdbDatabase, IdbFactory, IdbOpenDbRequest, IdbTransaction,
};

use super::{Durability, IdbError};

/// The one object store; see the module docs of [`super`] for its record layout.
pub(crate) const STORE: &str = "blocks";
/// The database schema version: bump it (with an upgrade path) when the layout changes.
pub(crate) const DB_VERSION: u32 = 1;

/// The global `indexedDB` (a window or a worker).
pub(crate) fn factory() -> Result<IdbFactory, IdbError> {
    let value = Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .map_err(|e| IdbError::Unavailable(describe(&e)))?;
    if value.is_undefined() || value.is_null() {
        return Err(IdbError::Unavailable(
            "this global scope has no indexedDB (not a window or worker, or storage disabled)"
                .into(),
        ));
    }
    value
        .dyn_into::<IdbFactory>()
        .map_err(|_| IdbError::Unavailable("globalThis.indexedDB is not an IDBFactory".into()))
}

/// A JS error (a `DOMException`, an `Error`, or anything thrown) in words.
pub(crate) fn describe(value: &JsValue) -> String {
    if let Some(dom) = value.dyn_ref::<DomException>() {
        return format!("{}: {}", dom.name(), dom.message());
    }
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return format!(
            "{}: {}",
            String::from(error.name()),
            String::from(error.message())
        );
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

/// Why a request or transaction failed: its `error` (a `DOMException`) if it has one.
pub(crate) fn dom_error(error: Option<DomException>, fallback: &str) -> String {
    error.map_or_else(
        || fallback.to_owned(),
        |dom| format!("{}: {}", dom.name(), dom.message()),
    )
}

/// A JS event listener owned by Rust.
type Listener = Closure<dyn FnMut(Event)>;

/// Listeners on one event target, registered at once and removed when dropped.
///
/// Register before the events can fire (right after issuing the request), then await
/// [`EventWait::next`]: the first of the listened-for events resolves it.
pub(crate) struct EventWait {
    target: EventTarget,
    promise: Promise,
    listeners: Vec<(&'static str, Listener)>,
}

impl std::fmt::Debug for EventWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<&str> = self.listeners.iter().map(|(kind, _)| *kind).collect();
        f.debug_struct("EventWait").field("kinds", &kinds).finish()
    }
}

impl EventWait {
    /// Starts listening for `kinds` on `target`.
    pub(crate) fn on(target: &EventTarget, kinds: &[&'static str]) -> Result<Self, IdbError> {
        let mut resolve_slot: Option<Function> = None;
        let promise = Promise::new(&mut |resolve, _reject| resolve_slot = Some(resolve));
        let resolve = resolve_slot.ok_or(IdbError::Internal(
            "the Promise executor did not run synchronously",
        ))?;
        let mut wait = EventWait {
            target: target.clone(),
            promise,
            listeners: Vec::with_capacity(kinds.len()),
        };
        for kind in kinds {
            let resolve = resolve.clone();
            let closure = Listener::new(move |event: Event| {
                // Resolving twice is a no-op; a throwing resolve cannot happen.
                let _ = resolve.call1(&JsValue::UNDEFINED, &event);
            });
            target
                .add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref())
                .map_err(|e| IdbError::js("addEventListener failed", &e))?;
            wait.listeners.push((kind, closure));
        }
        Ok(wait)
    }

    /// The first listened-for event's type (`"success"`, `"complete"`, `"error"`, ...).
    pub(crate) async fn next(self) -> Result<String, IdbError> {
        let event = JsFuture::from(self.promise.clone())
            .await
            .map_err(|e| IdbError::js("an event promise rejected", &e))?;
        let event = event
            .dyn_into::<Event>()
            .map_err(|_| IdbError::Internal("an event promise resolved to a non-Event"))?;
        Ok(event.type_())
    }
}

impl Drop for EventWait {
    fn drop(&mut self) {
        for (kind, closure) in &self.listeners {
            let _ = self
                .target
                .remove_event_listener_with_callback(kind, closure.as_ref().unchecked_ref());
        }
    }
}

/// Opens (creating or upgrading to [`DB_VERSION`]) the block database `name`.
pub(crate) async fn open_database(name: &str) -> Result<IdbDatabase, IdbError> {
    open_with_store(name, STORE).await
}

/// Opens (creating or upgrading to [`DB_VERSION`]) the database `name`, whose one object
/// store is `store`.
pub(crate) async fn open_with_store(
    name: &str,
    store: &'static str,
) -> Result<IdbDatabase, IdbError> {
    let open_err = |reason: String| IdbError::Open {
        name: name.to_owned(),
        reason,
    };
    let request = factory()?
        .open_with_u32(name, DB_VERSION)
        .map_err(|e| open_err(describe(&e)))?;
    // The upgrade must run synchronously inside the `upgradeneeded` event, while its
    // versionchange transaction is active: a plain callback, failures recorded for later.
    let upgrade_failure = std::rc::Rc::new(std::cell::RefCell::new(None::<String>));
    let on_upgrade = {
        let request = request.clone();
        let failure = upgrade_failure.clone();
        Closure::<dyn FnMut(Event)>::new(move |_event: Event| {
            if let Err(reason) = upgrade(&request, store) {
                *failure.borrow_mut() = Some(reason);
                if let Some(tx) = request.transaction() {
                    let _ = tx.abort();
                }
            }
        })
    };
    request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
    let outcome = EventWait::on(&request, &["success", "error", "blocked"])?
        .next()
        .await;
    request.set_onupgradeneeded(None);
    drop(on_upgrade);
    let kind = outcome?;
    if let Some(reason) = upgrade_failure.borrow_mut().take() {
        return Err(open_err(format!("schema upgrade failed: {reason}")));
    }
    match kind.as_str() {
        "success" => request
            .result()
            .map_err(|e| open_err(describe(&e)))?
            .dyn_into::<IdbDatabase>()
            .map_err(|_| IdbError::Internal("IDBOpenDBRequest.result is not an IDBDatabase")),
        "blocked" => Err(IdbError::Blocked {
            name: name.to_owned(),
        }),
        _ => Err(open_err(dom_error(
            request.error().ok().flatten(),
            "the open request failed without an error",
        ))),
    }
}

/// Creates the object store in a new database (version 0 → 1).
fn upgrade(request: &IdbOpenDbRequest, store: &str) -> Result<(), String> {
    let db = request
        .result()
        .map_err(|e| describe(&e))?
        .dyn_into::<IdbDatabase>()
        .map_err(|_| "IDBOpenDBRequest.result is not an IDBDatabase".to_owned())?;
    if !db.object_store_names().contains(store) {
        db.create_object_store(store).map_err(|e| describe(&e))?;
    }
    Ok(())
}

/// Deletes the database `name`. Open connections must be closed first.
pub(crate) async fn delete_database(name: &str) -> Result<(), IdbError> {
    let delete_err = |reason: String| IdbError::Delete {
        name: name.to_owned(),
        reason,
    };
    let request = factory()?
        .delete_database(name)
        .map_err(|e| delete_err(describe(&e)))?;
    let kind = EventWait::on(&request, &["success", "error", "blocked"])?
        .next()
        .await?;
    match kind.as_str() {
        "success" => Ok(()),
        "blocked" => Err(IdbError::Blocked {
            name: name.to_owned(),
        }),
        _ => Err(delete_err(dom_error(
            request.error().ok().flatten(),
            "the delete request failed without an error",
        ))),
    }
}

/// `IDBDatabase.transaction(STORE, mode, { durability })`: web-sys gates its typed binding
/// of the options behind an unstable cfg, so this calls the method through `Reflect`.
pub(crate) fn transaction(
    db: &IdbDatabase,
    mode: &str,
    durability: Durability,
) -> Result<IdbTransaction, JsValue> {
    transaction_on(db, STORE, mode, durability)
}

/// [`transaction`] on the object store `store`.
pub(crate) fn transaction_on(
    db: &IdbDatabase,
    store: &str,
    mode: &str,
    durability: Durability,
) -> Result<IdbTransaction, JsValue> {
    let options = Object::new();
    Reflect::set(
        &options,
        &JsValue::from_str("durability"),
        &JsValue::from_str(durability.as_str()),
    )?;
    let method = Reflect::get(db, &JsValue::from_str("transaction"))?.dyn_into::<Function>()?;
    method
        .call3(
            db,
            &JsValue::from_str(store),
            &JsValue::from_str(mode),
            &options,
        )?
        .dyn_into::<IdbTransaction>()
        .map_err(|_| JsValue::from_str("IDBDatabase.transaction did not return an IDBTransaction"))
}
