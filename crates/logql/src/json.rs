//! A small JSON reader for the `json` and `unpack` stages. It keeps numbers as written and
//! remembers the source span of objects and arrays (Loki returns those as raw text), which
//! `serde_json` would not without extra features.

/// Maximum nesting depth accepted.
const MAX_DEPTH: usize = 128;

/// A parsed JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, as written.
    Num(String),
    /// An unescaped string.
    Str(String),
    /// An array with its source span.
    Arr(Vec<Json>, usize, usize),
    /// An object (keys in document order) with its source span.
    Obj(Vec<(String, Json)>, usize, usize),
}

/// Parses a whole document (surrounding whitespace allowed).
pub fn parse(s: &str) -> Result<Json, String> {
    let mut p = Reader { s, b: s.as_bytes(), i: 0 };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(format!("unexpected character {:?} after top-level value at offset {}", p.cur_char(), p.i));
    }
    Ok(v)
}

/// A path step of a `json` stage parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum PathSeg {
    /// `.field` / `["field"]`
    Field(String),
    /// `[3]`
    Index(usize),
}

/// Parses `a.b[0]["c d"]`.
pub fn parse_path(expr: &str) -> Result<Vec<PathSeg>, String> {
    let err = || format!("invalid JSON expression: {expr}");
    let mut out = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0usize;
    let mut expect_field = true;
    while i < chars.len() {
        let c = chars.get(i).copied().unwrap_or(' ');
        if c == '.' {
            i += 1;
            expect_field = true;
            continue;
        }
        if c == '[' {
            let close = chars[i..].iter().position(|&x| x == ']').ok_or_else(err)? + i;
            let inner: String = chars.get(i + 1..close).ok_or_else(err)?.iter().collect();
            let inner = inner.trim();
            if let Some(q) = inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                out.push(PathSeg::Field(q.replace("\\\"", "\"")));
            } else {
                out.push(PathSeg::Index(inner.parse().map_err(|_| err())?));
            }
            i = close + 1;
            expect_field = false;
            continue;
        }
        if !expect_field {
            return Err(err());
        }
        let start = i;
        while i < chars.len() && !matches!(chars.get(i), Some('.' | '[' | ']')) {
            i += 1;
        }
        let name: String = chars.get(start..i).ok_or_else(err)?.iter().collect();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(err());
        }
        out.push(PathSeg::Field(name));
        expect_field = false;
    }
    if out.is_empty() {
        return Err(err());
    }
    Ok(out)
}

/// Follows `path` from `root`.
pub fn lookup<'a>(root: &'a Json, path: &[PathSeg]) -> Option<&'a Json> {
    let mut cur = root;
    for seg in path {
        cur = match (seg, cur) {
            (PathSeg::Field(f), Json::Obj(kv, _, _)) => kv.iter().rev().find(|(k, _)| k == f).map(|(_, v)| v)?,
            (PathSeg::Index(i), Json::Arr(items, _, _)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// The label value for a JSON value: strings unescaped, numbers and booleans as text, null
/// empty, objects and arrays as their raw source text.
pub fn label_value(v: &Json, src: &str) -> String {
    match v {
        Json::Null => String::new(),
        Json::Bool(b) => b.to_string(),
        Json::Num(n) => n.clone(),
        Json::Str(s) => s.clone(),
        Json::Arr(_, a, b) | Json::Obj(_, a, b) => src.get(*a..*b).unwrap_or_default().to_string(),
    }
}

struct Reader<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn cur_char(&self) -> char {
        self.s.get(self.i..).and_then(|r| r.chars().next()).unwrap_or('\0')
    }

    fn lit(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.s.get(self.i..).is_some_and(|r| r.starts_with(word)) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(format!("unexpected character {:?} at offset {}", self.cur_char(), self.i))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err("JSON nested too deeply".into());
        }
        match self.b.get(self.i) {
            None => Err("unexpected end of JSON input".into()),
            Some(b'{') => {
                let start = self.i;
                self.i += 1;
                let mut kv = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(kv, start, self.i));
                }
                loop {
                    self.ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return Err(format!("expected object key at offset {}", self.i));
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.b.get(self.i) != Some(&b':') {
                        return Err(format!("expected ':' at offset {}", self.i));
                    }
                    self.i += 1;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    kv.push((k, v));
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(kv, start, self.i));
                        }
                        _ => return Err(format!("expected ',' or '}}' at offset {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                let start = self.i;
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items, start, self.i));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items, start, self.i));
                        }
                        _ => return Err(format!("expected ',' or ']' at offset {}", self.i)),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.lit("true", Json::Bool(true)),
            Some(b'f') => self.lit("false", Json::Bool(false)),
            Some(b'n') => self.lit("null", Json::Null),
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                self.i += 1;
                while matches!(self.b.get(self.i), Some(c) if c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
                {
                    self.i += 1;
                }
                let text = self.s.get(start..self.i).unwrap_or_default();
                if text.parse::<f64>().is_err() {
                    return Err(format!("invalid number {text:?}"));
                }
                Ok(Json::Num(text.to_string()))
            }
            Some(_) => Err(format!("unexpected character {:?} at offset {}", self.cur_char(), self.i)),
        }
    }

    /// Reads a string at the opening quote.
    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(rest) = self.s.get(self.i..) else {
                return Err("unexpected end of JSON string".into());
            };
            let Some(c) = rest.chars().next() else {
                return Err("unexpected end of JSON string".into());
            };
            self.i += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let Some(e) = self.b.get(self.i).copied() else {
                        return Err("unexpected end of JSON string".into());
                    };
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let ch = if (0xD800..0xDC00).contains(&hi)
                                && self.s.get(self.i..).is_some_and(|r| r.starts_with("\\u"))
                            {
                                self.i += 2;
                                let lo = self.hex4()?;
                                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF))
                            } else {
                                char::from_u32(hi)
                            };
                            out.push(ch.unwrap_or('\u{FFFD}'));
                        }
                        _ => return Err(format!("invalid escape at offset {}", self.i)),
                    }
                }
                c if (c as u32) < 0x20 => {
                    return Err(format!("invalid control character in string at offset {}", self.i));
                }
                c => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self.s.get(self.i..self.i + 4).ok_or("unexpected end of JSON string")?;
        let v = u32::from_str_radix(h, 16).map_err(|_| format!("invalid unicode escape {h:?}"))?;
        self.i += 4;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_looks_up() {
        let src = r#"{"a": {"b": [1, {"c": "x\u00e9"}]}, "n": 1.50, "z": null}"#;
        let v = parse(src).unwrap();
        let p = parse_path(r#"a.b[1]["c"]"#).unwrap();
        assert_eq!(lookup(&v, &p), Some(&Json::Str("xé".into())));
        let p = parse_path("a.b").unwrap();
        assert_eq!(label_value(lookup(&v, &p).unwrap(), src), r#"[1, {"c": "x\u00e9"}]"#);
        assert_eq!(label_value(lookup(&v, &parse_path("n").unwrap()).unwrap(), src), "1.50");
        assert!(parse("{").is_err());
        assert!(parse(r#"{"a":1} x"#).is_err());
        assert!(parse(&"[".repeat(1000)).is_err());
        assert!(parse_path("a..").is_ok());
        assert!(parse_path("a[x]").is_err());
        assert!(parse_path("").is_err());
    }
}
