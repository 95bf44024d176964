//! Literal patterns (lang/src/literal.rs) match exactly as the regex crate does: for any
//! pattern the literal matcher accepts, and any value, both agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_lang::literal::LiteralPattern;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // First line: the pattern; the rest: the value.
    let (pattern, value) = text.split_once('\n').unwrap_or((text, ""));
    let Some(literal) = LiteralPattern::parse(pattern) else { return };
    let Some(re) = palisade_lang::hir::regex_source(pattern, false)
        .ok()
        .and_then(|source| regex::Regex::new(&source).ok())
    else {
        panic!("a literal pattern the regex crate refuses: {pattern:?}");
    };
    assert_eq!(
        literal.is_match(value),
        re.is_match(value),
        "pattern {pattern:?} value {value:?}"
    );
});
