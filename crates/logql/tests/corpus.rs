//! Runs the lezer-logql parse corpus (66 must parse, 14 must fail) and checks that every
//! parsed query prints to text that re-parses to the same AST.

use seer_logql::{parse, parse_syntax};
use std::path::Path;

struct Case {
    caption: String,
    query: String,
    must_fail: bool,
}

/// Reads the lezer test format: `# caption`, query, `==>`, expected tree (`⚠` marks errors).
fn load(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut caption: Option<String> = None;
    let mut query = String::new();
    let mut tree = String::new();
    let mut in_tree = false;
    let mut flush = |caption: &mut Option<String>, query: &mut String, tree: &mut String| {
        if let Some(c) = caption.take() {
            cases.push(Case { caption: c, query: query.trim().to_string(), must_fail: tree.contains('⚠') });
        }
        query.clear();
        tree.clear();
    };
    for line in text.lines() {
        if let Some(c) = line.strip_prefix("# ")
            && (caption.is_none() || in_tree)
        {
            flush(&mut caption, &mut query, &mut tree);
            caption = Some(c.trim().to_string());
            in_tree = false;
            continue;
        }
        if line.trim() == "==>" {
            in_tree = true;
            continue;
        }
        if in_tree {
            tree.push_str(line);
            tree.push('\n');
        } else if caption.is_some() {
            query.push_str(line);
            query.push('\n');
        }
    }
    flush(&mut caption, &mut query, &mut tree);
    cases
}

#[test]
fn lezer_corpus() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/loki/lezer-logql-expression.txt");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("logql parse corpus: skipped, {} not found", path.display());
        return;
    };
    let cases = load(&text);
    assert_eq!(cases.len(), 80, "corpus case count");
    let (mut parsed, mut rejected, mut strict_rejected) = (0, 0, Vec::new());
    for c in &cases {
        let r = parse_syntax(&c.query);
        match (&r, c.must_fail) {
            (Ok(e), false) => {
                parsed += 1;
                let printed = e.to_string();
                let again = parse_syntax(&printed)
                    .unwrap_or_else(|err| panic!("{}: printed {printed:?} fails: {err}", c.caption));
                assert_eq!(&again, e, "{}: round trip through {printed:?}", c.caption);
                if let Err(err) = parse(&c.query) {
                    strict_rejected.push(format!("{} ({err})", c.caption));
                }
            }
            (Err(_), true) => rejected += 1,
            (Ok(_), true) => panic!("{}: {:?} parsed but must fail", c.caption, c.query),
            (Err(e), false) => panic!("{}: {:?} failed: {e}", c.caption, c.query),
        }
    }
    println!("logql parse corpus: {parsed} parsed, {rejected} rejected as expected");
    // The editor grammar is more permissive than Loki: these parse but fail Loki's semantic
    // checks (selectors without a matcher that excludes the empty string, `regexp` without a
    // named group, grouping on `sort`).
    println!("  rejected by Loki's semantic checks: {}", strict_rejected.len());
    for s in &strict_rejected {
        println!("    {s}");
    }
    assert_eq!((parsed, rejected), (66, 14));
    assert_eq!(strict_rejected.len(), 8, "{strict_rejected:?}");
}

/// Every prefix and a set of single-character mutations of every corpus query must parse or
/// fail cleanly, never panic; whatever parses must print and re-parse to the same AST.
#[test]
fn mutations_never_panic() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/loki/lezer-logql-expression.txt");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("logql mutation test: skipped, corpus not found");
        return;
    };
    let inserts = [
        "(", ")", "{", "}", "[", "]", "\"", "`", "|", "=", "~", "!", ",", " or ", " and ", "-", "1", "5m", "µ", "\\",
        "#",
    ];
    let mut tried = 0usize;
    for c in load(&text) {
        let q = c.query;
        let bounds: Vec<usize> = q.char_indices().map(|(i, _)| i).chain(std::iter::once(q.len())).collect();
        for (n, &i) in bounds.iter().enumerate() {
            let mut variants = vec![
                q[..i].to_string(),
                format!("{}{}", &q[..i], q.get(i..).map(|r| r.chars().skip(1).collect::<String>()).unwrap_or_default()),
            ];
            for ins in inserts.iter().skip(n % 3).step_by(3) {
                variants.push(format!("{}{ins}{}", &q[..i], &q[i..]));
            }
            for v in variants {
                tried += 1;
                if let Ok(e) = parse_syntax(&v) {
                    let printed = e.to_string();
                    assert_eq!(parse_syntax(&printed).as_ref(), Ok(&e), "{v:?} printed as {printed:?}");
                    let _ = parse(&v);
                }
            }
        }
    }
    println!("logql mutation test: {tried} variants");
}

#[test]
fn folded_constants_print_as_parseable_text() {
    for q in ["2/0/0", "0/0", "1e999", "-1e999 + 1", "sum(rate({a=\"b\"}[1m])) * (0/0)"] {
        let e = seer_logql::parse(q).unwrap();
        let printed = e.to_string();
        assert!(seer_logql::parse(&printed).is_ok(), "{q} -> {printed}");
    }
}
