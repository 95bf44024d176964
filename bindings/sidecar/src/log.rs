//! Structured logs: one JSON object per line on stderr (`ts`, `level`, `msg`, fields).

use serde_json::{Map, Value};

/// Writes one log line; `fields` must be a JSON object (anything else is logged as `data`).
pub fn log(level: &str, msg: &str, fields: Value) {
    let mut line = Map::new();
    line.insert(
        "ts".into(),
        Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    );
    line.insert("level".into(), Value::String(level.into()));
    line.insert("msg".into(), Value::String(msg.into()));
    match fields {
        Value::Object(map) => line.extend(map),
        Value::Null => {}
        other => {
            line.insert("data".into(), other);
        }
    }
    eprintln!("{}", Value::Object(line));
}
