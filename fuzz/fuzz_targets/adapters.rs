//! Every input adapter: conversion never panics, and what it produces are valid records.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(converted) = palisade_adapters::convert(text) else { return };
    if converted.format == Some(palisade_adapters::Format::Records) {
        return;
    }
    for r in converted.records {
        serde_json::from_value::<palisade_engine::record::Record>(r).expect("adapters produce valid records");
    }
});
