//! Loading an arbitrary bundle never panics: it is verified, or refused.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = palisade_engine::bundle::load_bundle(text);
});
