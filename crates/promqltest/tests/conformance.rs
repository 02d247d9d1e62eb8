//! Runs Prometheus' PromQL conformance data (`../shared/conformance/promql`) and fails when
//! an eval listed in `passing.txt` no longer passes.

use seer_promqltest::run::Outcome;
use std::path::Path;

#[test]
fn conformance_does_not_regress() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/promql");
    let results = seer_promqltest::run_dir(&dir, &seer_promqltest::Skips::builtin()).expect("conformance data");
    let baseline = include_str!("../passing.txt");
    let mut failures = Vec::new();
    for want in baseline.lines().filter(|l| !l.is_empty()) {
        let (file, line) = want.split_once(':').expect("file:line");
        let line: usize = line.parse().expect("line number");
        let got = results
            .iter()
            .find(|r| r.name == file)
            .and_then(|r| r.evals.iter().find(|(l, _)| *l == line))
            .map(|(_, o)| o.clone());
        match got {
            Some(Outcome::Passed) => {}
            other => failures.push(format!("{want}: {other:?}")),
        }
    }
    let (p, f, s) = seer_promqltest::counts(&results);
    println!("promqltest: {p} passed, {f} failed, {s} skipped");
    assert!(failures.is_empty(), "{} regressions:\n{}", failures.len(), failures.join("\n"));
}

/// The runner must be able to fail: a wrong expectation is reported as a failure.
#[test]
fn wrong_expectations_fail() {
    let text = "load 1m\n  m{a=\"1\"} 1 2 3\n\neval instant at 2m m\n  m{a=\"1\"} 4\n\neval instant at 2m m\n  m{a=\"1\"} 3\n\neval instant at 2m rate(m[5m])\n  expect no_info\n  {a=\"1\"} 0.01\n";
    let r = seer_promqltest::run::run_text("t.test", text, &|_| None);
    assert!(matches!(r.evals[0].1, Outcome::Failed(_)), "{:?}", r.evals[0]);
    assert_eq!(r.evals[1].1, Outcome::Passed);
    assert!(matches!(r.evals[2].1, Outcome::Failed(_)), "{:?}", r.evals[2]);
}
