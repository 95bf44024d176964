//! Warnings and errors about inputs, each naming the file, the object and the field.

use serde::Serialize;
use std::fmt;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The analysis goes on; the map is still right under the reading given.
    Warning,
    /// The object would be refused by the API server: no map is printed.
    Error,
}

/// An object, for messages: `NetworkPolicy prod/deny-all`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    /// Kind.
    pub kind: String,
    /// Namespace (may be empty).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// A reference to `kind namespace/name`.
    pub fn new(kind: &str, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef {
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.name.is_empty() {
            "(unnamed)"
        } else {
            &self.name
        };
        if self.namespace.is_empty() {
            write!(f, "{} `{name}`", self.kind)
        } else {
            write!(f, "{} `{}/{name}`", self.kind, self.namespace)
        }
    }
}

/// A warning or error about one field of one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Warning or error.
    pub level: Level,
    /// The file.
    pub file: String,
    /// The object.
    pub object: ObjectRef,
    /// The field (`spec.ingress[0].from[1].ipBlock.cidr`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl Diagnostic {
    /// An error.
    pub fn error(file: &str, object: ObjectRef, field: &str, message: String) -> Diagnostic {
        Diagnostic {
            level: Level::Error,
            file: file.to_string(),
            object,
            field: field.to_string(),
            message,
        }
    }

    /// A warning.
    pub fn warning(file: &str, object: ObjectRef, field: &str, message: String) -> Diagnostic {
        Diagnostic {
            level: Level::Warning,
            ..Diagnostic::error(file, object, field, message)
        }
    }
}

impl fmt::Display for Diagnostic {
    /// `warning: FILE: NetworkPolicy `ns/name`: `field` MESSAGE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Warning => "warning",
            Level::Error => "error",
        };
        write!(f, "{level}: {}: {}", self.file, self.object)?;
        if !self.field.is_empty() {
            write!(f, ": `{}`", self.field)?;
        }
        write!(f, " {}", self.message)
    }
}
