//! `palisade test`: run the test cases written next to the policies, through both the
//! compiled matcher and the reference evaluator.

use crate::load::{self, Fatal};
use palisade_engine::Matcher;
use std::path::PathBuf;

pub fn run(paths: &[PathBuf]) -> Result<i32, Fatal> {
    let loaded = load::load(paths, false, load::Items::All)?;
    let (sources, set) = match load::checked_or_exit(loaded, false) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let matcher = Matcher::new(palisade_engine::compile(&set)?)?;
    let default_now = load::now()?;
    let (mut passed, mut failed) = (0, 0);
    for test in &set.tests {
        let where_ = sources.get(test.file).map(|f| {
            let (l, c) = f.line_col(test.span.start);
            format!("{}:{l}:{c}", f.name)
        });
        let result = palisade_engine::policy_test::run(&matcher, &set, test, default_now);
        match result {
            Ok(()) => {
                passed += 1;
                println!("ok      {} ({})", test.title, test.policy);
            }
            Err(why) => {
                failed += 1;
                println!(
                    "FAILED  {} ({}) at {}: {why}",
                    test.title,
                    test.policy,
                    where_.unwrap_or_default()
                );
            }
        }
    }
    println!(
        "\n{passed} passed, {failed} failed ({} polic{})",
        set.policies.len(),
        if set.policies.len() == 1 { "y" } else { "ies" }
    );
    Ok(if failed > 0 { 1 } else { 0 })
}
