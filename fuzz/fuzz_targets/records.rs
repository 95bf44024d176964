//! The record reader (object, array, JSON Lines) never panics on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = palisade_engine::input::read_all(data);
});
