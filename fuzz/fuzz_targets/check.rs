//! Checking (and compiling what checks) never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_lang::{SourceFile, Sources};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut sources = Sources::default();
    let i = sources.add(SourceFile::new("fuzz.pal", text));
    let Ok(file) = palisade_lang::parse(&sources, i) else { return };
    if let Ok(set) = palisade_lang::check(&sources, &[(i, file)]) {
        if let Ok(program) = palisade_engine::compile(&set) {
            palisade_engine::Matcher::new(program).expect("a compiled program loads");
        }
    }
});
