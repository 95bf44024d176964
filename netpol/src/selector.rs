//! Kubernetes label selectors (`matchLabels` and `matchExpressions`).

use serde_json::Value;
use std::collections::BTreeMap;

/// Labels of a pod or namespace.
pub type Labels = BTreeMap<String, String>;

/// A `matchExpressions` operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// The label's value is one of the values.
    In,
    /// The label is absent, or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

/// One `matchExpressions` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// The operator.
    pub operator: Operator,
    /// The values (`In`, `NotIn`).
    pub values: Vec<String>,
}

/// A label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// `matchLabels`.
    pub match_labels: Labels,
    /// `matchExpressions`.
    pub match_expressions: Vec<Requirement>,
}

impl Selector {
    /// A selector of exactly these labels.
    pub fn labels(labels: Labels) -> Selector {
        Selector {
            match_labels: labels,
            match_expressions: Vec::new(),
        }
    }

    /// Whether the selector is `{}` (everything).
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator {
                    Operator::In => value.is_some_and(|v| r.values.contains(v)),
                    Operator::NotIn => value.is_none_or(|v| !r.values.contains(v)),
                    Operator::Exists => value.is_some(),
                    Operator::DoesNotExist => value.is_none(),
                }
            })
    }

    /// The selector as Kubernetes writes it.
    pub fn to_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        if !self.match_labels.is_empty() {
            out.insert(
                "matchLabels".into(),
                Value::Object(
                    self.match_labels
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect(),
                ),
            );
        }
        if !self.match_expressions.is_empty() {
            let exprs = self
                .match_expressions
                .iter()
                .map(|r| {
                    let mut e = serde_json::Map::new();
                    e.insert("key".into(), Value::String(r.key.clone()));
                    e.insert(
                        "operator".into(),
                        Value::String(format!("{:?}", r.operator)),
                    );
                    if !r.values.is_empty() {
                        e.insert(
                            "values".into(),
                            Value::Array(r.values.iter().cloned().map(Value::String).collect()),
                        );
                    }
                    Value::Object(e)
                })
                .collect();
            out.insert("matchExpressions".into(), Value::Array(exprs));
        }
        Value::Object(out)
    }
}

/// Reads a selector object; `Err` names the field (relative to the selector) and what is
/// wrong with it.
pub fn parse_selector(v: &Value) -> Result<Selector, (String, String)> {
    let Some(obj) = v.as_object() else {
        if v.is_null() {
            return Ok(Selector::default());
        }
        return Err((String::new(), "is not an object".into()));
    };
    let mut sel = Selector::default();
    match obj.get("matchLabels") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => {
                        return Err((format!("matchLabels.{k}"), "is not a string".into()));
                    }
                };
                sel.match_labels.insert(k.clone(), text);
            }
        }
        Some(_) => return Err(("matchLabels".into(), "is not an object".into())),
    }
    match obj.get("matchExpressions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, e) in items.iter().enumerate() {
                let at = |f: &str| format!("matchExpressions[{i}]{f}");
                let key = e
                    .get("key")
                    .and_then(Value::as_str)
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| (at(".key"), "is missing or not a string".to_string()))?;
                let op_text = e.get("operator").and_then(Value::as_str).unwrap_or("");
                let operator = match op_text {
                    "In" => Operator::In,
                    "NotIn" => Operator::NotIn,
                    "Exists" => Operator::Exists,
                    "DoesNotExist" => Operator::DoesNotExist,
                    other => {
                        return Err((
                            at(".operator"),
                            format!(
                                "`{other}` is not an operator (In, NotIn, Exists, DoesNotExist)"
                            ),
                        ));
                    }
                };
                let values: Vec<String> = match e.get("values") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(vs)) => vs
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => Ok(s.clone()),
                            Value::Bool(b) => Ok(b.to_string()),
                            Value::Number(n) => Ok(n.to_string()),
                            _ => Err((at(".values"), "holds a value that is not a string".into())),
                        })
                        .collect::<Result<_, _>>()?,
                    Some(_) => return Err((at(".values"), "is not a list".into())),
                };
                match operator {
                    Operator::In | Operator::NotIn if values.is_empty() => {
                        return Err((at(".values"), format!("must not be empty for `{op_text}`")));
                    }
                    Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                        return Err((at(".values"), format!("must be empty for `{op_text}`")));
                    }
                    _ => {}
                }
                sel.match_expressions.push(Requirement {
                    key: key.to_string(),
                    operator,
                    values,
                });
            }
        }
        Some(_) => return Err(("matchExpressions".into(), "is not a list".into())),
    }
    Ok(sel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn operators_follow_kubernetes() {
        let sel = parse_selector(
            &json!({"matchLabels": {"tier": "web"}, "matchExpressions": [
            {"key": "app", "operator": "In", "values": ["a", "b"]},
            {"key": "env", "operator": "NotIn", "values": ["prod"]},
            {"key": "team", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"}]}),
        )
        .unwrap_or_default();
        assert!(sel.matches(&labels(&[("tier", "web"), ("app", "a"), ("team", "x")])));
        assert!(!sel.matches(&labels(&[("tier", "web"), ("app", "c"), ("team", "x")])));
        assert!(!sel.matches(&labels(&[
            ("tier", "web"),
            ("app", "a"),
            ("team", "x"),
            ("env", "prod")
        ])));
        assert!(!sel.matches(&labels(&[("tier", "web"), ("app", "a")])));
        assert!(!sel.matches(&labels(&[
            ("tier", "web"),
            ("app", "a"),
            ("team", "x"),
            ("legacy", "")
        ])));
        assert!(Selector::default().matches(&Labels::new()));
    }

    #[test]
    fn invalid_selectors_name_the_field() {
        let err = parse_selector(
            &json!({"matchExpressions": [{"key": "a", "operator": "in", "values": ["x"]}]}),
        );
        assert_eq!(
            err.err().map(|e| e.0),
            Some("matchExpressions[0].operator".to_string())
        );
        let err = parse_selector(&json!({"matchExpressions": [{"key": "a", "operator": "In"}]}));
        assert_eq!(
            err.err().map(|e| e.0),
            Some("matchExpressions[0].values".to_string())
        );
        assert!(parse_selector(&json!({"matchLabels": []})).is_err());
    }
}
