//! The few browser services the runtime needs: a monotonic clock, the CSPRNG, timers
//! and microtasks, and JS errors in words. Nothing here panics: a missing `window`
//! (a worker) degrades to `Date.now()` and to no timers.

use js_sys::Function;
use quorate_mesh_proto::Instant;
use wasm_bindgen::JsValue;

/// `performance.now()` in microseconds (monotonic; `Date.now()` without a window).
pub(crate) fn now() -> Instant {
    let ms = web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now());
    #[allow(
        clippy::cast_possible_truncation,
        reason = "a non-negative f64 of milliseconds since page load fits u64 micros; `as` saturates"
    )]
    let micros = (ms.max(0.0) * 1000.0) as u64;
    Instant::from_micros(micros)
}

/// Fills `buf` from `crypto.getRandomValues`.
///
/// # Errors
/// A message when the page has no `window.crypto` or the call throws.
pub(crate) fn random(buf: &mut [u8]) -> Result<(), String> {
    let crypto = web_sys::window()
        .ok_or("no window")?
        .crypto()
        .map_err(|e| describe(&e))?;
    // getRandomValues takes at most 65,536 bytes per call.
    for chunk in buf.chunks_mut(65_536) {
        crypto
            .get_random_values_with_u8_array(chunk)
            .map_err(|e| describe(&e))?;
    }
    Ok(())
}

/// `setTimeout(f, ms)`; the handle for [`clear_timeout`], `None` without a window.
pub(crate) fn set_timeout(f: &Function, ms: i32) -> Option<i32> {
    web_sys::window()?
        .set_timeout_with_callback_and_timeout_and_arguments_0(f, ms)
        .ok()
}

/// `clearTimeout(handle)`.
pub(crate) fn clear_timeout(handle: i32) {
    if let Some(w) = web_sys::window() {
        w.clear_timeout_with_handle(handle);
    }
}

/// `queueMicrotask(f)` (a `setTimeout(f, 0)` fallback is not needed: without a window
/// nothing runs at all).
pub(crate) fn queue_microtask(f: &Function) {
    if let Some(w) = web_sys::window() {
        w.queue_microtask(f);
    }
}

/// A JS error (an `Error`, a `DOMException`, anything thrown) in words.
pub(crate) fn describe(value: &JsValue) -> String {
    use wasm_bindgen::JsCast;
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return format!(
            "{}: {}",
            String::from(error.name()),
            String::from(error.message())
        );
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}
