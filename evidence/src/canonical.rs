//! Canonical JSON: the bytes an entry is hashed and stored as.
//!
//! Object keys sorted by their UTF-8 bytes, no whitespace, strings escaped as serde_json
//! escapes them, integers only (entries carry no floating-point numbers). The same value
//! always gives the same bytes, whichever order its keys were built in.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The canonical text of a JSON value.
pub fn to_string(value: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    write(value, &mut out);
    // Only JSON text (UTF-8) was written.
    String::from_utf8(out).unwrap_or_default()
}

fn write(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(key, out);
                out.push(b':');
                if let Some(v) = map.get(key) {
                    write(v, out);
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(v, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_str(s, out),
        // null, booleans and numbers print the same way in any serializer.
        other => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// `sha256:` and the hex SHA-256 of bytes.
pub fn digest_bytes(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// `sha256:` and the hex SHA-256 of everything a reader yields.
pub fn digest_reader(mut reader: impl std::io::Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("sha256:{}", hex(&h.finalize())))
}

/// The digest of a value's canonical text.
pub fn digest(value: &Value) -> String {
    digest_bytes(to_string(value).as_bytes())
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_level_and_nothing_is_spaced() {
        let a = json!({"b": 1, "a": {"z": [1, {"y": "é\n", "x": null}], "c": true}});
        assert_eq!(
            to_string(&a),
            r#"{"a":{"c":true,"z":[1,{"x":null,"y":"é\n"}]},"b":1}"#
        );
    }

    #[test]
    fn the_digest_does_not_depend_on_key_order() {
        let a: Value = serde_json::from_str(r#"{"x":1,"y":[2,3]}"#).unwrap_or_default();
        let b: Value = serde_json::from_str(r#"{ "y": [2, 3], "x": 1 }"#).unwrap_or_default();
        assert_eq!(digest(&a), digest(&b));
        assert!(digest(&a).starts_with("sha256:") && digest(&a).len() == 71);
        assert_ne!(digest(&a), digest(&json!({"x": 2, "y": [2, 3]})));
    }
}
