//! The PromQL conformance runner: parses Prometheus' `.test` scripts (series notation,
//! `load`, `eval` with expectations), loads the data into an in-memory store and checks the
//! engine's answers exactly as upstream's `promqltest` does.
//!
//! Owns: the script format and the comparison rules.
//! Must not: be used by the server; it is a test tool.

pub mod notation;
pub mod run;
pub mod script;
pub mod storage;

use std::path::Path;

/// Skips: `file[:line] reason` per line of `skips.txt`.
pub struct Skips {
    entries: Vec<(String, Option<usize>, String)>,
}

impl Skips {
    /// Parses the skip list.
    pub fn parse(text: &str) -> Skips {
        let mut entries = Vec::new();
        for l in text.lines() {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let (target, reason) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            let (file, line) = match target.split_once(':') {
                Some((f, n)) => (f.to_string(), n.parse().ok()),
                None => (target.to_string(), None),
            };
            entries.push((file, line, reason.trim().to_string()));
        }
        Skips { entries }
    }

    /// The skip list shipped with the runner.
    pub fn builtin() -> Skips {
        Skips::parse(include_str!("../skips.txt"))
    }

    /// Why `file:line` is skipped, if it is.
    pub fn reason(&self, file: &str, line: usize) -> Option<String> {
        self.entries.iter().find(|(f, l, _)| f == file && l.is_none_or(|l| l == line)).map(|(_, _, r)| r.clone())
    }
}

/// Runs every `.test` file of a directory, sorted by name.
pub fn run_dir(dir: &Path, skips: &Skips) -> std::io::Result<Vec<run::FileResult>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("test"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for p in files {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        let text = std::fs::read_to_string(&p)?;
        out.push(run::run_text(&name, &text, &|line| skips.reason(&name, line)));
    }
    Ok(out)
}

/// Counts (passed, failed, skipped).
pub fn counts(results: &[run::FileResult]) -> (usize, usize, usize) {
    let mut c = (0, 0, 0);
    for r in results {
        for (_, o) in &r.evals {
            match o {
                run::Outcome::Passed => c.0 += 1,
                run::Outcome::Failed(_) => c.1 += 1,
                run::Outcome::Skipped(_) => c.2 += 1,
            }
        }
    }
    c
}
