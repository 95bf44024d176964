//! The exported C ABI (wasm32 only). Pointers and lengths are guest addresses (`i32`); a
//! returned buffer is packed in an `i64` as `ptr << 32 | len` and belongs to the host, which
//! frees it with `palisade_free`. Input buffers stay the host's: the plugin only reads them.
#![allow(unsafe_code)]

use crate::{ABI_VERSION, Plugin};
use std::alloc::{Layout, alloc, dealloc};
use std::sync::Mutex;

/// The plugin instance's state (a WASM instance is single-threaded; the mutex keeps this safe Rust).
static STATE: Mutex<Option<Plugin>> = Mutex::new(None);

fn with_plugin<R>(f: impl FnOnce(&mut Plugin) -> R) -> R {
    let mut guard = STATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(guard.get_or_insert_with(Plugin::default))
}

/// Reads the host's buffer.
///
/// # Safety
/// `ptr..ptr+len` must be a buffer the host wrote (from `palisade_alloc`).
unsafe fn input<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 || ptr.is_null() {
        return &[];
    }
    // SAFETY: the caller guarantees the range is an allocation of at least `len` bytes.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

/// Hands a string to the host as a `ptr << 32 | len` pair.
fn output(text: String) -> u64 {
    let bytes = text.into_bytes().into_boxed_slice();
    let len = bytes.len();
    let ptr = Box::into_raw(bytes) as *mut u8;
    ((ptr as usize as u64) << 32) | len as u64
}

/// The ABI version ([`ABI_VERSION`]).
#[unsafe(no_mangle)]
pub extern "C" fn palisade_abi_version() -> u32 {
    ABI_VERSION
}

/// Allocates `len` bytes for the host to write into; 0 when out of memory.
#[unsafe(no_mangle)]
pub extern "C" fn palisade_alloc(len: usize) -> *mut u8 {
    if len == 0 {
        return std::ptr::NonNull::<u8>::dangling().as_ptr();
    }
    match Layout::from_size_align(len, 1) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { alloc(layout) },
        Err(_) => std::ptr::null_mut(),
    }
}

/// Frees a buffer from `palisade_alloc` or one returned by `palisade_load`/`palisade_check`.
///
/// # Safety
/// `ptr`/`len` must be exactly such a buffer, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn palisade_free(ptr: *mut u8, len: usize) {
    if len == 0 || ptr.is_null() {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(len, 1) {
        // SAFETY: allocated with this layout (a boxed byte slice has align 1).
        unsafe { dealloc(ptr, layout) }
    }
}

/// Loads a bundle (JSON text): `{"ok": true, "policies": N}` or `{"error"}`.
///
/// # Safety
/// `ptr`/`len` must be a buffer from `palisade_alloc` holding `len` written bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn palisade_load(ptr: *const u8, len: usize) -> u64 {
    // SAFETY: forwarded from the caller.
    let bundle = unsafe { input(ptr, len) };
    output(with_plugin(|p| p.load(bundle)))
}

/// Evaluates a check request against the loaded bundle: the CLI's JSON report or `{"error"}`.
///
/// # Safety
/// `ptr`/`len` must be a buffer from `palisade_alloc` holding `len` written bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn palisade_check(ptr: *const u8, len: usize) -> u64 {
    // SAFETY: forwarded from the caller.
    let request = unsafe { input(ptr, len) };
    output(with_plugin(|p| p.check(request)))
}

/// Evaluates part `index` of `of` of a check request (`palisade_api::Part`): the report of
/// that part's records, which the host merges with the other parts' into the whole report
/// (`palisade_engine::json_report::merge_parts`), or `{"error"}`.
///
/// # Safety
/// `ptr`/`len` must be a buffer from `palisade_alloc` holding `len` written bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn palisade_check_part(
    ptr: *const u8,
    len: usize,
    index: u32,
    of: u32,
) -> u64 {
    // SAFETY: forwarded from the caller.
    let request = unsafe { input(ptr, len) };
    let part = palisade_api::Part {
        index: index as usize,
        of: of as usize,
    };
    output(with_plugin(|p| p.check_part(request, part)))
}

/// Always traps. A test hook: hosts call it to exercise their trap handling.
#[unsafe(no_mangle)]
pub extern "C" fn palisade_trap() {
    core::arch::wasm32::unreachable()
}
