//! Loading an arbitrary bundle never panics: it is verified, or refused. A program that
//! loads can always be written out as Rust (`palisade_engine::codegen`), without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(matcher) = palisade_engine::bundle::load_bundle(text) {
        let module = palisade_engine::codegen::rust_module(matcher.program());
        assert!(module.is_ok(), "a loaded program is refused by codegen: {module:?}");
    }
});
