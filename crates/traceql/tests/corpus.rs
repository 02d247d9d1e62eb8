//! Runs the lezer-traceql parse corpus (all 128 queries must parse, print and re-parse to the
//! same tree, and pass validation), then tables of queries Tempo rejects, grouped by the
//! categories of `../shared/conformance/tempo/README.md`.

use seer_traceql::{Error, parse, parse_and_validate, validate};
use std::path::Path;

struct Case {
    caption: String,
    query: String,
}

/// Reads the lezer test format: `# caption`, query line(s), `==>`, tree line(s), blank line.
fn load(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut caption: Option<String> = None;
    let mut query = String::new();
    let mut in_tree = false;
    for line in text.lines() {
        if let Some(c) = line.strip_prefix("# ")
            && (caption.is_none() || in_tree)
        {
            if let Some(prev) = caption.take() {
                cases.push(Case { caption: prev, query: query.trim().to_string() });
            }
            query.clear();
            caption = Some(c.trim().to_string());
            in_tree = false;
            continue;
        }
        if line.trim() == "==>" {
            in_tree = true;
        } else if !in_tree && caption.is_some() {
            query.push_str(line);
            query.push('\n');
        }
    }
    if let Some(prev) = caption {
        cases.push(Case { caption: prev, query: query.trim().to_string() });
    }
    cases
}

fn corpus() -> Option<Vec<Case>> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/tempo/lezer-traceql-expression.txt");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(load(&text)),
        Err(_) => {
            println!("traceql corpus: skipped, {} not found", path.display());
            None
        }
    }
}

#[test]
fn lezer_corpus() {
    let Some(cases) = corpus() else { return };
    assert_eq!(cases.len(), 128, "corpus case count");
    let mut parsed = 0;
    for c in &cases {
        let q = parse(&c.query).unwrap_or_else(|e| panic!("{}: {:?} failed: {e}", c.caption, c.query));
        let printed = q.to_string();
        let again = parse(&printed).unwrap_or_else(|e| panic!("{}: printed {printed:?} fails: {e}", c.caption));
        assert_eq!(again, q, "{}: round trip through {printed:?}", c.caption);
        assert_eq!(again.to_string(), printed, "{}: printing is not stable", c.caption);
        validate(&q).unwrap_or_else(|e| panic!("{}: {:?} does not validate: {e}", c.caption, c.query));
        parsed += 1;
    }
    println!("traceql corpus: {parsed} parsed of {}", cases.len());
    assert_eq!(parsed, 128);
}

/// Every prefix and some single-character mutations of every corpus query parse or fail
/// cleanly; whatever parses prints and re-parses to the same tree.
#[test]
fn mutations_never_panic() {
    let Some(cases) = corpus() else { return };
    let inserts =
        ["(", ")", "{", "}", "\"", "`", "|", "=", "~", "!", ",", "&&", "-", "1", "5m", "µ", "\\", ".", ":", ">"];
    let mut tried = 0usize;
    for c in cases {
        let q = c.query;
        let bounds: Vec<usize> = q.char_indices().map(|(i, _)| i).chain(std::iter::once(q.len())).collect();
        for (n, &i) in bounds.iter().enumerate() {
            let mut variants =
                vec![q[..i].to_string(), format!("{}{}", &q[..i], q[i..].chars().skip(1).collect::<String>())];
            for ins in inserts.iter().skip(n % 3).step_by(3) {
                variants.push(format!("{}{ins}{}", &q[..i], &q[i..]));
            }
            for v in variants {
                tried += 1;
                if let Ok(e) = parse(&v) {
                    let printed = e.to_string();
                    assert_eq!(parse(&printed).as_ref(), Ok(&e), "{v:?} printed as {printed:?}");
                    let _ = validate(&e);
                }
            }
        }
    }
    println!("traceql mutation test: {tried} variants");
}

/// Queries that must be syntax errors.
const PARSE_FAILS: &[(&str, &str)] = &[
    // a bare expression with no braces
    ("bare expression", ".a = 1"),
    ("bare intrinsic", "name = \"foo\""),
    ("bare static", "true"),
    // unterminated or empty selectors
    ("unterminated selector", "{ .a = 1"),
    ("unterminated selector 2", "{"),
    ("empty query", ""),
    ("only spaces", "   "),
    ("unclosed parens", "({ .a = 1 }"),
    ("unterminated string", "{ .a = \"foo }"),
    // attribute without `.` or scope
    ("attribute without dot", "{ a = 1 }"),
    ("attribute without dot 2", "{ http.status = 200 }"),
    ("unknown scope", "{ foo.bar = 1 }"),
    // `==`
    ("double equals", "{ .a == 1 }"),
    // arithmetic and =, <=, >= between spansets
    ("spanset addition", "{ .a } + { .b }"),
    ("spanset multiplication", "{ .a } * { .b }"),
    ("spanset equality", "{ .a } = { .b }"),
    ("spanset lte", "{ .a } <= { .b }"),
    ("spanset gte", "{ .a } >= { .b }"),
    // aggregates over non-numeric fields
    ("max of name", "{ } | max(name) > 1"),
    ("max of status", "{ } | max(status) = 1"),
    ("avg of string", "{ } | avg(\"foo\") > 1"),
    ("sum of kind", "{ } | sum(kind) > 1"),
    // a scalar filter that does not resolve to a boolean
    ("aggregate without comparison", "{ } | count()"),
    ("aggregate arithmetic without comparison", "{ } | count() + 1"),
    ("regex scalar filter", "{ } | count() =~ 1"),
    // empty select() / by()
    ("empty select", "{ } | select()"),
    ("empty by", "{ } | by()"),
    ("empty metrics by", "{ } | rate() by ()"),
    // a pipeline that starts with coalesce()
    ("coalesce first", "coalesce()"),
    ("coalesce first in group", "(coalesce() | { .a }) && { .b }"),
    // scalar filter outside a pipeline, naked pipe
    ("scalar filter joined to spanset", "{ .a } && count() > 1"),
    ("naked pipe count", "| count() > 1"),
    ("naked pipe", "{ .a } |"),
    // scoped intrinsic in the wrong scope
    ("trace status", "{ trace:status = error }"),
    ("span rootName", "{ span:rootName = \"foo\" }"),
    ("event duration", "{ event:duration > 1s }"),
    ("link name", "{ link:name = \"foo\" }"),
    ("trace name", "{ trace:name = \"foo\" }"),
    // misc syntax
    ("bad duration unit", "{ duration > 1x }"),
    ("integer overflow", "{ .a = 99999999999999999999 }"),
    ("dangling operator", "{ .a = }"),
    ("dangling and", "{ .a = 1 && }"),
    ("unknown function", "{ } | foo()"),
    ("metrics in group", "({ } | rate())"),
    ("topk without metrics", "{ } | topk(5)"),
    ("compare with three args", "{ } | compare({ status = error }, 10, 1)"),
    ("quantile without quantiles", "{ } | quantile_over_time(duration)"),
    ("empty hints", "{ } with ()"),
    ("hint without value", "{ } with (most_recent)"),
    ("invalid escape", "{ .a = \"\\q\" }"),
    ("lonely ampersand", "{ .a } & { .b }"),
    ("structural in filter", "{ .a >> .b }"),
    ("colon", "{ .a = 1 } : { .b }"),
];

/// Queries that parse but fail validation.
const VALIDATE_FAILS: &[(&str, &str)] = &[
    // the filter body is not boolean
    ("arithmetic body", "{ 1 + 1 }"),
    ("status body", "{ status }"),
    ("string body", "{ \"foo\" }"),
    ("duration body", "{ duration }"),
    ("nil body", "{ nil }"),
    // mismatched operand types
    ("int vs string", "{ 1 = \"foo\" }"),
    ("status ordering", "{ status > ok }"),
    ("root service vs int", "{ rootServiceName = 1 }"),
    ("status vs kind", "{ status = server }"),
    ("kind vs string", "{ kind = \"server\" }"),
    ("name vs int", "{ name = 1 }"),
    ("duration vs string", "{ duration > \"1s\" }"),
    ("bool ordering", "{ true > false }"),
    ("regex on int", "{ 1 =~ \"1\" }"),
    ("regex on status", "{ status =~ \"error\" }"),
    ("string arithmetic", "{ \"a\" + 1 = 2 }"),
    ("and on ints", "{ 1 && 2 }"),
    ("nil ordering", "{ .a > nil }"),
    // invalid regex
    ("invalid regex", "{ .a =~ \"(\" }"),
    ("invalid negated regex", "{ name !~ \"[a-\" }"),
    // unary operators on the wrong type
    ("negated string", "{ -\"foo\" = 1 }"),
    ("not on int", "{ !1 }"),
    ("negated status", "{ -status = 1 }"),
    // aggregates that do not reference the span
    ("sum of constant", "{ } | sum(3) = 2"),
    ("avg of constant", "avg(1 + 1) > 1"),
    // by() on a constant
    ("by constant", "{ } | by(1)"),
    ("by constant expression", "{ } | by(1 + 2)"),
    // nested set intrinsics compared with non-integers
    ("nested set vs float", "{ nestedSetLeft = 1.5 }"),
    ("nested set vs string", "{ nestedSetParent = \"a\" }"),
    ("nested set vs duration", "{ nestedSetRight > 1s }"),
    // metrics
    ("histogram of name", "{ } | histogram_over_time(name)"),
    ("quantile out of range", "{ } | quantile_over_time(duration, 1.5)"),
    ("min over time of status", "{ } | min_over_time(status)"),
    ("zero topk", "{ } | rate() | topk(0)"),
    ("compare non-boolean", "{ } | compare({ 1 + 1 })"),
    ("compare start after end", "{ } | compare({ status = error }, 10, 20, 10)"),
    // hints
    ("most_recent not bool", "{ } with (most_recent=1)"),
];

#[test]
fn must_fail() {
    let mut n = 0;
    for (what, q) in PARSE_FAILS {
        match parse(q) {
            Err(e) => {
                let s = e.to_string();
                assert!(s.starts_with("parse error at line "), "{what}: {q:?}: {s}");
            }
            Ok(parsed) => panic!("{what}: {q:?} must not parse, got {parsed}"),
        }
        n += 1;
    }
    for (what, q) in VALIDATE_FAILS {
        match parse_and_validate(q) {
            Err(Error::Validate(_)) => {}
            Err(Error::Parse(e)) => panic!("{what}: {q:?} must parse, got {e}"),
            Ok(_) => panic!("{what}: {q:?} must fail validation"),
        }
        n += 1;
    }
    println!("traceql must-fail table: {n} queries ({} syntax, {} semantic)", PARSE_FAILS.len(), VALIDATE_FAILS.len());
}

/// Queries beyond the corpus that must parse, validate and round-trip.
const VALID: &[&str] = &[
    "{ trace:duration > 5s }",
    "{ trace:rootName = \"GET /\" && trace:rootService = \"frontend\" }",
    "{ trace:id = \"1234\" }",
    "{ span:duration > 100ms && span:name = \"x\" && span:status = error && span:kind = server }",
    "{ span:statusMessage = \"Forbidden\" }",
    "{ span:id = \"0000000000000001\" && span:parentID != nil }",
    "{ span:childCount = 0 }",
    "{ event:name = \"exception\" && event:timeSinceStart > 2ms }",
    "{ link:traceID = \"abc\" || link:spanID = \"def\" }",
    "{ instrumentation:name = \"grpc\" && instrumentation:version = \"1.0.0\" }",
    "{ event.exception.message =~ \".*went wrong.*\" }",
    "{ link.opentracing.ref_type = \"child_of\" }",
    "{ instrumentation.language = \"java\" }",
    "{ span.\"attribute name with space\" = \"value\" }",
    "{ span.attribute.\"attribute name with space\" = \"value\" }",
    "{ span.\"this is \\\"bad\\\"\" = \"foo\" }",
    "{ parent.span.http.method = \"GET\" }",
    "{ parent.resource.service.name = \"a\" && parent.x = 1 }",
    "{ .a = nil } && { .b != nil }",
    "{ span.value != minInt && span.value != maxInt }",
    "{ event:timeSinceStart > -5s }",
    "{ span.retry_count > -1 }",
    "{ .a = `raw \\d string` }",
    "{ nestedSetLeft > 1 && nestedSetRight < 10 && nestedSetParent = -1 }",
    "{ span.http.request_content_length > 10 * 1024 * 1024 }",
    "{ duration > 1h30m && duration < 1.5ms }",
    "{ .a = 1e-7 }",
    "{ status = error } | by(resource.service.name) | count() > 1",
    "{ } | sum(span.bytesProcessed) > 1000000000",
    "({ } | count() = 0) && { .b }",
    "(count() + 1) * 2 > 3 | { .a }",
    "{ } | avg(duration) > max(duration) / 2",
    "{ status = error } | select(span.http.status_code, span.http.url)",
    "{ } | rate() by (resource.service.name) > 10",
    "{ } | quantile_over_time(duration, .99, .9, .5) by (span.http.target)",
    "{ span:duration < 5ms } | count_over_time() by(resource.service.name) | topk(10)",
    "{ resource.service.name = \"foo\" } | rate() by (instrumentation:name)",
    "{ } with (sample=0.1)",
    "{ } with (most_recent=true, sample=0.5)",
    "{ .a } >> { .b } > { .c } && { .d } || { .e }",
    "{ .a || .b && .c }",
    "{ -2 ^ 2 = -4 && (-2) ^ 2 = 4 && 2 ^ -1 = 0.5 }",
    "{ !(.a = 1) && !!.b }",
    "{ .\"5\" = 1 && .5 < 1 }",
    "{ 1 = 1 = true }",
];

#[test]
fn valid_queries_round_trip() {
    for q in VALID {
        let parsed = parse_and_validate(q).unwrap_or_else(|e| panic!("{q:?}: {e}"));
        let printed = parsed.to_string();
        assert_eq!(parse(&printed).as_ref(), Ok(&parsed), "{q:?} printed as {printed:?}");
    }
    println!("traceql extra valid queries: {}", VALID.len());
}

#[test]
fn error_messages_look_like_tempo() {
    let cases = [
        ("{ a }", "parse error at line 1, col 3: syntax error: unexpected IDENTIFIER"),
        ("{ .a = 1", "parse error at line 1, col 9: syntax error: unexpected $end, expecting CLOSE_BRACE"),
        ("{ .a == 1 }", "parse error at line 1, col 7: syntax error: unexpected EQ"),
        ("{ .a }\n| count()", "parse error at line 2, col 10: syntax error: unexpected $end"),
        ("{ trace:status = error }", "parse error at line 1, col 3: syntax error: unknown intrinsic trace:status"),
    ];
    for (q, want) in cases {
        assert_eq!(parse(q).unwrap_err().to_string(), want, "{q:?}");
    }
    let e = parse_and_validate("{ 1 = \"foo\" }").unwrap_err().to_string();
    assert!(e.starts_with("invalid TraceQL query: "), "{e}");
}

#[test]
fn nesting_is_bounded() {
    for depth in [10usize, 100, 200, 1000, 100_000] {
        let q = format!("{{ {}true{} }}", "(".repeat(depth), ")".repeat(depth));
        let r = parse(&q);
        if depth <= 200 {
            let parsed = r.unwrap_or_else(|e| panic!("depth {depth}: {e}"));
            assert_eq!(parse(&parsed.to_string()), Ok(parsed));
        } else {
            assert!(r.unwrap_err().to_string().contains("nested too deeply"), "depth {depth}");
        }
        let spansets = format!("{}{{ }}{}", "(".repeat(depth), ")".repeat(depth));
        let _ = parse(&spansets);
        let chain = format!("{{ {} }}", vec![".a = 1"; depth].join(" && "));
        let _ = parse(&chain);
        let unary = format!("{{ {}.a }}", "!".repeat(depth));
        let _ = parse(&unary);
        let pipes = format!("{{ }}{}", " | { }".repeat(depth));
        let _ = parse(&pipes);
    }
}
