//! Code lenses: the result of each policy's tests, run when the editor asks (through the
//! compiled matcher and the reference evaluator, as `palisade test` runs them).

use crate::analysis::Analysis;
use lsp_types::{CodeLens, Command};
use palisade_engine::Matcher;
use palisade_lang::ast::ItemKind;

/// The lenses of file `file`: over each policy, how its tests went; over each test, its
/// result. None when the workspace does not check (the diagnostics say why).
pub fn lenses(analysis: &Analysis, file: usize, now: i64) -> Vec<CodeLens> {
    let (Some(set), Some(f)) = (analysis.checked.as_ref(), analysis.files.get(file)) else {
        return Vec::new();
    };
    // Compiled once per analysis: the editor asks again for every file it shows.
    let compiled = analysis.matcher.get_or_init(|| {
        palisade_engine::compile(set)
            .map_err(|e| e.to_string())
            .and_then(|program| Matcher::new(program).map_err(|e| e.to_string()))
    });
    let matcher = match compiled {
        Ok(m) => m,
        Err(why) => return vec![lens(analysis, file, 0, format!("tests not run: {why}"))],
    };
    let mut out = Vec::new();
    for item in &f.parsed.items {
        let ItemKind::Policy(p) = &item.kind else {
            continue;
        };
        let tests: Vec<_> = set
            .tests
            .iter()
            .filter(|t| t.policy == p.name.value)
            .collect();
        let mut failed = 0;
        for t in &tests {
            let result = palisade_engine::policy_test::run(matcher, set, t, t.now.unwrap_or(now));
            let title = match result {
                Ok(()) => "✓ passes".to_string(),
                Err(why) => {
                    failed += 1;
                    format!("✗ fails: {}", why.lines().next().unwrap_or(""))
                }
            };
            // A test in this file gets its own lens.
            if t.file == file {
                out.push(lens(analysis, file, t.span.start, title));
            }
        }
        let summary = match (tests.len(), failed) {
            (0, _) => "no tests".to_string(),
            (n, 0) => format!(
                "✓ {n} test{} pass{}",
                plural(n),
                if n == 1 { "es" } else { "" }
            ),
            (n, k) => format!(
                "✗ {k} of {n} test{} fail{}",
                plural(n),
                if k == 1 { "s" } else { "" }
            ),
        };
        out.push(lens(analysis, file, p.name.span.start, summary));
    }
    out.sort_by_key(|l| (l.range.start.line, l.range.start.character));
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A lens that only shows `title` (its command does nothing).
fn lens(analysis: &Analysis, file: usize, at: usize, title: String) -> CodeLens {
    let span = palisade_lang::Span::new(at, at);
    CodeLens {
        range: analysis.range(file, span),
        command: Some(Command {
            title,
            command: String::new(),
            arguments: None,
        }),
        data: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_test_and_policy_shows_its_result() {
        let text = "policy \"p\" {\n  severity high\n  lifecycle deploy\n  soc2 CC7.2\n  when container.privileged\n}\n\ntest \"fires\" for \"p\" {\n  deployment { name: \"d\", containers: [{ name: \"c\", security_context: { privileged: true } }] }\n  expect fire\n}\n\ntest \"wrongly quiet\" for \"p\" {\n  deployment { name: \"d\", containers: [{ name: \"c\", security_context: { privileged: true } }] }\n  expect no fire\n}\n\npolicy \"q\" {\n  severity low\n  lifecycle deploy\n  soc2 CC7.2\n  when container.privileged\n}\n";
        let analysis = Analysis::new([("file:///w/a.pal", text)], Analysis::default());
        let titles: Vec<(u32, String)> = lenses(&analysis, 0, 0)
            .into_iter()
            .map(|l| {
                (
                    l.range.start.line,
                    l.command.map(|c| c.title).unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(titles.len(), 4, "{titles:?}");
        assert_eq!(titles[0], (0, "✗ 1 of 2 tests fails".to_string()));
        assert_eq!(titles[1], (7, "✓ passes".to_string()));
        assert_eq!(titles[2].0, 12);
        assert!(
            titles[2].1.starts_with("✗ fails: expected no violation"),
            "{titles:?}"
        );
        assert_eq!(titles[3], (17, "no tests".to_string()));
    }
}
