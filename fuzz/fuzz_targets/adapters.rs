//! Every input adapter: conversion never panics, and what it produces are valid records.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Any JSON value as the object of an AdmissionReview (strings, numbers, arrays, nulls
    // included): refused or converted, never a panic.
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        for operation in ["CREATE", "UPDATE", "CONNECT"] {
            let review = serde_json::json!({
                "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "request": {"uid": "u", "operation": operation, "subResource": "exec",
                            "kind": {"kind": "Pod"}, "object": value, "oldObject": value},
            });
            check(&review.to_string());
        }
    }
    check(text);
});

fn check(text: &str) {
    let Ok(converted) = palisade_adapters::convert(text) else { return };
    if converted.format == Some(palisade_adapters::Format::Records) {
        return;
    }
    for r in converted.records {
        serde_json::from_value::<palisade_engine::record::Record>(r).expect("adapters produce valid records");
    }
}
