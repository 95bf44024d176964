//! Parsing arbitrary text never panics; formatting what parses is idempotent.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_lang::{SourceFile, Sources};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut sources = Sources::default();
    let i = sources.add(SourceFile::new("fuzz.pal", text));
    if let Ok(file) = palisade_lang::parse(&sources, i) {
        if file.unplaced_comments.is_empty() {
            let once = palisade_lang::format_file(&file);
            let j = sources.add(SourceFile::new("once.pal", once.clone()));
            let again = palisade_lang::parse(&sources, j).expect("formatted output parses");
            assert_eq!(file, again, "formatting changed the AST");
            assert_eq!(once, palisade_lang::format_file(&again), "formatting is not idempotent");
        }
    }
});
