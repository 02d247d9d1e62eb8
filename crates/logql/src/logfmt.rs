//! A logfmt reader following go-logfmt: `key=value`, `key="quoted \" value"`, bare `key`.

/// One decoded pair; `value` is `None` for a standalone key.
#[derive(Debug, PartialEq)]
pub struct Pair {
    /// The key as written.
    pub key: String,
    /// The value (unquoted), `None` for a bare key.
    pub value: Option<String>,
}

/// Decodes `line`. In strict mode the first malformed pair stops decoding and its error is
/// returned with the pairs read so far; otherwise malformed pairs are skipped.
pub fn decode(line: &str, strict: bool) -> (Vec<Pair>, Option<String>) {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    loop {
        while b.get(i).is_some_and(|c| *c <= b' ') {
            i += 1;
        }
        if i >= b.len() {
            return (out, None);
        }
        match read_pair(line, i) {
            Ok((pair, next)) => {
                out.push(pair);
                i = next;
            }
            Err((msg, at)) => {
                if strict {
                    return (out, Some(format!("logfmt syntax error at pos {} : {msg}", at + 1)));
                }
                // Skip to the next whitespace and go on.
                i = at.max(i + 1);
                while b.get(i).is_some_and(|c| *c > b' ') {
                    i += 1;
                }
            }
        }
    }
}

fn read_pair(line: &str, start: usize) -> Result<(Pair, usize), (String, usize)> {
    let b = line.as_bytes();
    let mut i = start;
    while let Some(&c) = b.get(i) {
        if c <= b' ' || c == b'=' || c == b'"' {
            break;
        }
        i += 1;
    }
    if i == start {
        let c = line.get(i..).and_then(|r| r.chars().next()).unwrap_or(' ');
        return Err((format!("unexpected {c:?}"), i));
    }
    let key = line.get(start..i).unwrap_or_default().to_string();
    match b.get(i) {
        Some(b'=') => i += 1,
        Some(b'"') => return Err(("unexpected '\"'".into(), i)),
        _ => return Ok((Pair { key, value: None }, i)),
    }
    if b.get(i) == Some(&b'"') {
        let (v, next) = read_quoted(line, i)?;
        if b.get(next).is_some_and(|c| *c > b' ') {
            return Err(("unexpected character after quoted value".into(), next));
        }
        return Ok((Pair { key, value: Some(v) }, next));
    }
    let vstart = i;
    while let Some(&c) = b.get(i) {
        if c <= b' ' {
            break;
        }
        if c == b'=' || c == b'"' {
            return Err((format!("unexpected {:?}", c as char), i));
        }
        i += 1;
    }
    Ok((Pair { key, value: Some(line.get(vstart..i).unwrap_or_default().to_string()) }, i))
}

fn read_quoted(line: &str, start: usize) -> Result<(String, usize), (String, usize)> {
    let mut out = String::new();
    let mut it = line.get(start + 1..).unwrap_or_default().char_indices();
    while let Some((j, c)) = it.next() {
        match c {
            '"' => return Ok((out, start + 1 + j + 1)),
            '\\' => {
                let Some((_, e)) = it.next() else { break };
                match e {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    '/' => out.push('/'),
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let mut v = 0u32;
                        for _ in 0..4 {
                            let Some(d) = it.next().and_then(|(_, h)| h.to_digit(16)) else {
                                return Err(("invalid quoted value".into(), start));
                            };
                            v = v * 16 + d;
                        }
                        out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
                    }
                    _ => return Err(("invalid quoted value".into(), start)),
                }
            }
            c => out.push(c),
        }
    }
    Err(("unterminated quoted value".into(), start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(line: &str, strict: bool) -> (Vec<(String, Option<String>)>, bool) {
        let (p, e) = decode(line, strict);
        (p.into_iter().map(|p| (p.key, p.value)).collect(), e.is_some())
    }

    #[test]
    fn decodes() {
        let (p, e) = kv(r#"a=1 b="x y" c= d"#, false);
        assert!(!e);
        assert_eq!(
            p,
            vec![
                ("a".into(), Some("1".into())),
                ("b".into(), Some("x y".into())),
                ("c".into(), Some("".into())),
                ("d".into(), None)
            ]
        );
        let (p, e) = kv(r#"a=1 =bad b=2"#, false);
        assert!(!e);
        assert_eq!(p.len(), 2);
        let (p, e) = kv(r#"a=1 =bad b=2"#, true);
        assert!(e);
        assert_eq!(p.len(), 1);
        let (_, e) = kv(r#"a="unterminated"#, true);
        assert!(e);
        let (p, _) = kv(r#"msg="say \"hi\"\n""#, true);
        assert_eq!(p[0].1.as_deref(), Some("say \"hi\"\n"));
    }
}
