//! `promqltest [-v] [--baseline FILE] [--write-baseline FILE] DIR`: runs the conformance
//! scripts, prints a line per file and `promqltest: N passed, M failed, K skipped`.
//! With `--baseline`, exits non-zero when an eval listed there (file:line) no longer passes.

use seer_promqltest::run::Outcome;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn main() {
    let mut verbose = false;
    let mut baseline: Option<PathBuf> = None;
    let mut write_baseline: Option<PathBuf> = None;
    let mut dir: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-v" => verbose = true,
            "--baseline" => baseline = args.next().map(PathBuf::from),
            "--write-baseline" => write_baseline = args.next().map(PathBuf::from),
            "-h" | "--help" => {
                println!("usage: promqltest [-v] [--baseline FILE] [--write-baseline FILE] DIR");
                return;
            }
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: promqltest [-v] [--baseline FILE] [--write-baseline FILE] DIR");
        std::process::exit(2);
    };
    let skips = seer_promqltest::Skips::builtin();
    let results = match seer_promqltest::run_dir(&dir, &skips) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("promqltest: cannot read {}: {e}", dir.display());
            std::process::exit(2);
        }
    };
    let mut passing = BTreeSet::new();
    for r in &results {
        let c = seer_promqltest::counts(std::slice::from_ref(r));
        println!("{}: {} passed, {} failed, {} skipped", r.name, c.0, c.1, c.2);
        for (line, o) in &r.evals {
            match o {
                Outcome::Passed => {
                    passing.insert(format!("{}:{line}", r.name));
                }
                Outcome::Failed(e) if verbose => println!("  FAIL {}:{line}: {e}", r.name),
                Outcome::Skipped(why) if verbose => println!("  SKIP {}:{line}: {why}", r.name),
                _ => {}
            }
        }
    }
    let (p, f, s) = seer_promqltest::counts(&results);
    println!("promqltest: {p} passed, {f} failed, {s} skipped");
    if let Some(path) = write_baseline {
        let text: String = passing.iter().map(|l| format!("{l}\n")).collect();
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("promqltest: cannot write {}: {e}", path.display());
            std::process::exit(2);
        }
    }
    if let Some(path) = baseline {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let regressions: Vec<&str> = text.lines().filter(|l| !l.is_empty() && !passing.contains(*l)).collect();
        if !regressions.is_empty() {
            println!("promqltest: {} previously passing evals fail now:", regressions.len());
            for r in regressions {
                println!("  {r}");
            }
            std::process::exit(1);
        }
    }
}
