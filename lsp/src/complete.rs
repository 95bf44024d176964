//! Completion: what may be typed at the cursor, read from the text before it (a document
//! being typed rarely parses).

use crate::analysis::Analysis;
use lsp_types::{CompletionItem, CompletionItemKind};
use palisade_lang::hir::{ENFORCEMENT_ACTIONS, Severity};
use palisade_lang::schema::{FieldId, Root, Stage, Subject, parent_of};
use palisade_lang::soc2;

/// Keywords that start an item.
const ITEMS: [&str; 4] = ["policy", "list", "macro", "test"];
/// Keywords that start a policy clause.
const CLAUSES: [&str; 16] = [
    "description",
    "rationale",
    "remediation",
    "severity",
    "categories",
    "lifecycle",
    "event_source",
    "enforce",
    "mitre",
    "soc2",
    "disabled",
    "scope",
    "exclude",
    "when",
    "message",
    "}",
];
/// Words of a condition.
const CONDITION: [&str; 14] = [
    "and",
    "or",
    "not",
    "any",
    "every",
    "no",
    "count",
    "has",
    "days_since",
    "in",
    "matches",
    "contains",
    "where",
    "as",
];

/// The completions at byte `offset` of file `file`.
pub fn complete(analysis: &Analysis, file: usize, offset: usize) -> Vec<CompletionItem> {
    let Some(f) = analysis.files.get(file) else {
        return Vec::new();
    };
    let mut offset = offset.min(f.text.len());
    while !f.text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &f.text[..offset];
    let line = before.rsplit('\n').next().unwrap_or("");
    let policy = enclosing_policy(before);
    let stages = policy.map(stages_of).unwrap_or_default();
    // `subject.` or `alias.` (and a partial field name after it).
    let word_start = line
        .char_indices()
        .rfind(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let word = &line[word_start..];
    if let Some((path, _partial)) = word.rsplit_once('.') {
        let subject = resolve(path, policy.unwrap_or(""));
        return match subject {
            Some(s) => members(s, &stages),
            None => Vec::new(),
        };
    }
    let head: Vec<&str> = line.split_whitespace().collect();
    let first = head.first().copied().unwrap_or("");
    let typing_first = head.len() <= 1 && !line.ends_with(char::is_whitespace);
    if policy.is_none() {
        return keywords(&ITEMS, CompletionItemKind::KEYWORD);
    }
    if typing_first || head.is_empty() {
        return keywords(&CLAUSES, CompletionItemKind::KEYWORD);
    }
    match first {
        "severity" => keywords(
            &Severity::ALL.map(|s| s.as_str()),
            CompletionItemKind::ENUM_MEMBER,
        ),
        "lifecycle" => keywords(
            &["build", "deploy", "runtime"],
            CompletionItemKind::ENUM_MEMBER,
        ),
        "event_source" => keywords(
            &["deployment", "audit_log", "node"],
            CompletionItemKind::ENUM_MEMBER,
        ),
        "enforce" => ENFORCEMENT_ACTIONS
            .iter()
            .filter(|(_, stage)| stages.is_empty() || stages.contains(stage))
            .map(|(name, stage)| CompletionItem {
                label: (*name).to_string(),
                kind: Some(CompletionItemKind::ENUM_MEMBER),
                detail: Some(format!("{} stage", stage.as_str())),
                ..Default::default()
            })
            .collect(),
        "soc2" => soc2::criteria()
            .map(|id| CompletionItem {
                detail: Some(soc2::title(&id).to_string()),
                label: id,
                kind: Some(CompletionItemKind::CONSTANT),
                ..Default::default()
            })
            .collect(),
        "when" => condition(analysis, &stages),
        _ if in_condition(policy.unwrap_or("")) => condition(analysis, &stages),
        _ => Vec::new(),
    }
}

/// The text of the policy the cursor is in, from its `policy` keyword to the cursor.
fn enclosing_policy(before: &str) -> Option<&str> {
    let start = before
        .rmatch_indices("policy \"")
        .map(|(i, _)| i)
        .find(|&i| {
            i == 0 || before[..i].ends_with('\n') || before[..i].ends_with(char::is_whitespace)
        })?;
    let inside = &before[start..];
    // A closing brace at the start of a line ends the policy.
    let closed = inside
        .lines()
        .skip(1)
        .any(|l| l.trim_start().starts_with('}') && l.trim() == "}");
    (!closed).then_some(inside)
}

/// The stages a policy's `lifecycle` clause names.
fn stages_of(policy: &str) -> Vec<Stage> {
    policy
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("lifecycle"))
        .map(|rest| {
            rest.split(|c: char| c == ',' || c.is_whitespace())
                .filter_map(Stage::parse)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the cursor is inside the policy's `when` condition (it spans lines).
fn in_condition(policy: &str) -> bool {
    let last_clause = policy.lines().map(str::trim_start).rfind(|l| {
        CLAUSES
            .iter()
            .any(|c| l.starts_with(&format!("{c} ")) || l == c)
    });
    last_clause.is_some_and(|l| l.starts_with("when"))
}

/// The subject a path before a dot names: a subject, an alias bound by `as`, or a path of
/// subjects (`c.image`).
fn resolve(path: &str, policy: &str) -> Option<Subject> {
    let mut parts = path.split('.');
    let root = parts.next()?;
    let mut subject = Subject::parse(root).or_else(|| alias(root, policy))?;
    for step in parts {
        subject = Subject::parse(step)?;
    }
    Some(subject)
}

/// The subject an alias is bound to in the policy's text (`any container as c`).
fn alias(name: &str, policy: &str) -> Option<Subject> {
    let words: Vec<&str> = policy
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(3)
        .rev()
        .find(|w| w[1] == "as" && w[2] == name)
        .and_then(|w| Subject::parse(w[0]))
}

/// Whether `subject` exists in records of one of `stages` (all when none are named).
fn available(subject: Subject, stages: &[Stage]) -> bool {
    Root::ALL.into_iter().any(|r| {
        (stages.is_empty() || stages.contains(&r.stage()))
            && !matches!(parent_of(r, subject.field_owner()), Some(Err(())))
    })
}

/// Fields and child subjects after `subject.`.
fn members(subject: Subject, stages: &[Stage]) -> Vec<CompletionItem> {
    let mut out: Vec<CompletionItem> = palisade_lang::schema::FIELDS
        .iter()
        .filter(|f| f.subject == subject.field_owner())
        .map(|f| CompletionItem {
            label: f.name.to_string(),
            kind: Some(CompletionItemKind::FIELD),
            detail: Some(f.ty.describe()),
            documentation: Some(lsp_types::Documentation::String(f.doc.to_string())),
            ..Default::default()
        })
        .collect();
    if !matches!(subject, Subject::Entry | Subject::Element) && !available(subject, stages) {
        return Vec::new();
    }
    for child in Subject::NAMED {
        let reachable = Root::ALL.into_iter().any(|r| {
            (stages.is_empty() || stages.contains(&r.stage()))
                && palisade_lang::schema::step_link(r, subject, child).is_some()
        });
        if reachable && FieldId::lookup(subject, child.name()).is_none() {
            out.push(CompletionItem {
                label: child.name().to_string(),
                kind: Some(CompletionItemKind::MODULE),
                detail: Some("subject".into()),
                ..Default::default()
            });
        }
    }
    out
}

/// Subjects, lists, macros and condition words.
fn condition(analysis: &Analysis, stages: &[Stage]) -> Vec<CompletionItem> {
    let mut out: Vec<CompletionItem> = Subject::NAMED
        .into_iter()
        .filter(|s| available(*s, stages))
        .map(|s| CompletionItem {
            label: s.name().to_string(),
            kind: Some(CompletionItemKind::MODULE),
            detail: Some("subject".into()),
            ..Default::default()
        })
        .collect();
    out.extend(analysis.lists.keys().map(|n| CompletionItem {
        label: n.clone(),
        kind: Some(CompletionItemKind::CONSTANT),
        detail: Some("list".into()),
        ..Default::default()
    }));
    out.extend(analysis.macros.keys().map(|n| CompletionItem {
        label: n.clone(),
        kind: Some(CompletionItemKind::FUNCTION),
        detail: Some("macro".into()),
        ..Default::default()
    }));
    out.extend(keywords(&CONDITION, CompletionItemKind::KEYWORD));
    out
}

fn keywords(words: &[&str], kind: CompletionItemKind) -> Vec<CompletionItem> {
    words
        .iter()
        .map(|w| CompletionItem {
            label: (*w).to_string(),
            kind: Some(kind),
            ..Default::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(text_with_cursor: &str) -> Vec<String> {
        let offset = text_with_cursor.find('|').unwrap_or(0);
        let text = text_with_cursor.replace('|', "");
        let analysis = Analysis::new([("file:///w/a.pal", text.as_str())], Analysis::default());
        complete(&analysis, 0, offset)
            .into_iter()
            .map(|c| c.label)
            .collect()
    }

    #[test]
    fn fields_follow_a_subject_and_respect_the_stages() {
        let deploy = labels("policy \"p\" {\n  lifecycle deploy\n  when container.|\n}\n");
        assert!(deploy.contains(&"privileged".to_string()), "{deploy:?}");
        assert!(deploy.contains(&"image".to_string()), "{deploy:?}");
        assert!(!deploy.contains(&"exec_path".to_string()));
        // A process exists only at runtime: nothing to complete in a build policy.
        assert!(labels("policy \"p\" {\n  lifecycle build\n  when process.|").is_empty());
        let alias = labels("policy \"p\" {\n  lifecycle deploy\n  when any container as c: c.ima|");
        assert!(alias.contains(&"image_name".to_string()), "{alias:?}");
        let chained = labels("policy \"p\" {\n  lifecycle deploy\n  when container.image.|");
        assert!(chained.contains(&"tag".to_string()), "{chained:?}");
    }

    #[test]
    fn clause_values_complete_after_their_keyword() {
        let sev = labels("policy \"p\" {\n  severity |");
        assert_eq!(sev, ["low", "medium", "high", "critical"]);
        let soc2 = labels("policy \"p\" {\n  soc2 C|");
        assert!(soc2.contains(&"CC7.2".to_string()) && soc2.len() == 61);
        let enforce = labels("policy \"p\" {\n  lifecycle runtime\n  enforce |");
        assert_eq!(enforce, ["kill_pod", "fail_kube_request"]);
        let clause = labels("policy \"p\" {\n  sev|");
        assert!(clause.contains(&"severity".to_string()));
        assert_eq!(labels("pol|"), ["policy", "list", "macro", "test"]);
        // A word after a character of several bytes.
        let after = labels("policy \"p\" {\n  lifecycle deploy\n  when é·container.|");
        assert!(after.contains(&"privileged".to_string()), "{after:?}");
    }

    #[test]
    fn conditions_offer_subjects_lists_and_macros() {
        let text = "list shells = [\"sh\"]\nmacro root = container.run_as_user == 0\npolicy \"p\" {\n  lifecycle runtime\n  when process.name in |";
        let got = labels(text);
        for want in ["shells", "root", "process", "container", "any"] {
            assert!(got.contains(&want.to_string()), "{want}: {got:?}");
        }
    }
}
