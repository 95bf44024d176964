//! StackRox import never panics, and what it produces always parses and checks.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_lang::{SourceFile, Sources};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(pal) = palisade_stackrox::translate_document(text) else { return };
    let mut sources = Sources::default();
    let i = sources.add(SourceFile::new("translated.pal", pal));
    let file = palisade_lang::parse(&sources, i).unwrap_or_else(|d| panic!("translation does not parse: {}", sources.to_line(&d[0])));
    let _ = palisade_lang::check(&sources, &[(i, file)]);
});
