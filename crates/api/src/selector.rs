//! Series selectors as used by `match[]`: `name`, `name{l="v",...}`, `{...}`, with the four
//! matcher kinds, the three PromQL string quotings, and Prometheus 3's quoted UTF-8 names.

use seer_model::{METRIC_NAME, MatchKind, Matcher};

/// Parses a selector into matchers. Errors are worded like PromQL's (`1:8: parse error: ...`).
pub fn parse_selector(s: &str) -> Result<Vec<Matcher>, String> {
    let mut p = P { s, b: s.as_bytes(), i: 0 };
    let m = p.selector()?;
    p.ws();
    if p.i < p.b.len() {
        return Err(p.err(&format!("unexpected character after selector: {:?}", p.rest_token())));
    }
    Ok(m)
}

struct P<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl P<'_> {
    /// The current position, moved back to a character boundary (an escape can leave it
    /// inside a multi-byte character).
    fn at(&self) -> usize {
        let mut i = self.i.min(self.s.len());
        while !self.s.is_char_boundary(i) {
            i -= 1;
        }
        i
    }

    fn err(&self, msg: &str) -> String {
        let before = &self.s[..self.at()];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map(|x| x + 1).unwrap_or(0) + 1;
        format!("{line}:{col}: parse error: {msg}")
    }

    fn rest_token(&self) -> String {
        self.s[self.at()..].chars().take(10).collect()
    }

    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn ident(&mut self, colon: bool) -> Option<&str> {
        let start = self.i;
        while self.i < self.b.len() {
            let c = self.b[self.i];
            let ok =
                c.is_ascii_alphabetic() || c == b'_' || (colon && c == b':') || (self.i > start && c.is_ascii_digit());
            if !ok {
                break;
            }
            self.i += 1;
        }
        if self.i == start { None } else { Some(&self.s[start..self.i]) }
    }

    fn selector(&mut self) -> Result<Vec<Matcher>, String> {
        self.ws();
        let mut out = Vec::new();
        if self.i >= self.b.len() {
            return Err(self.err("unexpected end of input"));
        }
        if self.b[self.i] != b'{' {
            let Some(name) = self.ident(true) else {
                return Err(self.err(&format!("unexpected character: {:?}", self.rest_token())));
            };
            out.push(Matcher::equal(METRIC_NAME, name));
            self.ws();
        }
        if self.i < self.b.len() && self.b[self.i] == b'{' {
            self.i += 1;
            let had_name = !out.is_empty();
            loop {
                self.ws();
                if self.i >= self.b.len() {
                    return Err(self.err("unexpected end of input inside braces"));
                }
                if self.b[self.i] == b'}' {
                    self.i += 1;
                    break;
                }
                let name = if matches!(self.b[self.i], b'"' | b'\'' | b'`') {
                    let q = self.string()?;
                    self.ws();
                    if self.i < self.b.len() && matches!(self.b[self.i], b',' | b'}') {
                        if had_name || out.iter().any(|m: &Matcher| m.name == METRIC_NAME) {
                            return Err(self.err("metric name must not be set twice"));
                        }
                        out.push(Matcher::equal(METRIC_NAME, q));
                        if self.b[self.i] == b',' {
                            self.i += 1;
                        }
                        continue;
                    }
                    q
                } else {
                    match self.ident(false) {
                        Some(n) => n.to_string(),
                        None => {
                            return Err(
                                self.err(&format!("unexpected character inside braces: {:?}", self.rest_token()))
                            );
                        }
                    }
                };
                self.ws();
                let kind = if self.s.get(self.i..).unwrap_or("").starts_with("=~") {
                    self.i += 2;
                    MatchKind::Regex
                } else if self.s.get(self.i..).unwrap_or("").starts_with("!~") {
                    self.i += 2;
                    MatchKind::NotRegex
                } else if self.s.get(self.i..).unwrap_or("").starts_with("!=") {
                    self.i += 2;
                    MatchKind::NotEqual
                } else if self.s.get(self.i..).unwrap_or("").starts_with('=') {
                    self.i += 1;
                    MatchKind::Equal
                } else if self.i >= self.b.len() {
                    return Err(self.err("unexpected end of input inside braces"));
                } else {
                    return Err(self.err(&format!(
                        "unexpected {:?} in label matching, expected label matching operator",
                        self.rest_token()
                    )));
                };
                self.ws();
                if self.i >= self.b.len() {
                    return Err(self.err("unexpected end of input inside braces"));
                }
                let value = self.string()?;
                let m = Matcher::new(kind, name, value).map_err(|e| self.err(&e.to_string()))?;
                out.push(m);
                self.ws();
                if self.i < self.b.len() && self.b[self.i] == b',' {
                    self.i += 1;
                    continue;
                }
                if self.i < self.b.len() && self.b[self.i] == b'}' {
                    self.i += 1;
                    break;
                }
                if self.i >= self.b.len() {
                    return Err(self.err("unexpected end of input inside braces"));
                }
                return Err(self
                    .err(&format!("unexpected {:?} in label matching, expected \",\" or \"}}\"", self.rest_token())));
            }
        }
        if out.is_empty() {
            return Err(self.err("vector selector must contain at least one non-empty matcher"));
        }
        Ok(out)
    }

    fn string(&mut self) -> Result<String, String> {
        let q = self.b[self.i];
        if !matches!(q, b'"' | b'\'' | b'`') {
            return Err(self.err(&format!("unexpected {:?}, expected string", self.rest_token())));
        }
        self.i += 1;
        let mut out = String::new();
        let start = self.i;
        if q == b'`' {
            while self.i < self.b.len() && self.b[self.i] != b'`' {
                self.i += 1;
            }
            if self.i >= self.b.len() {
                return Err(self.err("unterminated raw string"));
            }
            out.push_str(&self.s[start..self.i]);
            self.i += 1;
            return Ok(out);
        }
        let mut seg = self.i;
        while self.i < self.b.len() {
            let c = self.b[self.i];
            if c == q {
                out.push_str(&self.s[seg..self.i]);
                self.i += 1;
                return Ok(out);
            }
            if c == b'\n' {
                break;
            }
            if c == b'\\' {
                out.push_str(&self.s[seg..self.i]);
                self.i += 1;
                let Some(&e) = self.b.get(self.i) else { break };
                self.i += 1;
                match e {
                    b'n' => out.push('\n'),
                    b't' => out.push('\t'),
                    b'r' => out.push('\r'),
                    b'a' => out.push('\u{7}'),
                    b'b' => out.push('\u{8}'),
                    b'f' => out.push('\u{c}'),
                    b'v' => out.push('\u{b}'),
                    b'\\' => out.push('\\'),
                    b'"' => out.push('"'),
                    b'\'' => out.push('\''),
                    b'x' | b'u' | b'U' => {
                        let n = match e {
                            b'x' => 2,
                            b'u' => 4,
                            _ => 8,
                        };
                        let hex = self.s.get(self.i..self.i + n).ok_or_else(|| self.err("invalid escape sequence"))?;
                        let v = u32::from_str_radix(hex, 16).map_err(|_| self.err("invalid escape sequence"))?;
                        if e == b'x' {
                            // \xNN is a byte; only ASCII bytes can stand alone in UTF-8.
                            if v > 0x7f {
                                return Err(self.err("invalid escape sequence"));
                            }
                        }
                        out.push(char::from_u32(v).ok_or_else(|| self.err("invalid escape sequence"))?);
                        self.i += n;
                    }
                    b'0'..=b'7' => {
                        let oct =
                            self.s.get(self.i - 1..self.i + 2).ok_or_else(|| self.err("invalid escape sequence"))?;
                        let v = u32::from_str_radix(oct, 8).map_err(|_| self.err("invalid escape sequence"))?;
                        if v > 0x7f {
                            return Err(self.err("invalid escape sequence"));
                        }
                        out.push(char::from_u32(v).unwrap_or('\0'));
                        self.i += 2;
                    }
                    _ => return Err(self.err("unknown escape sequence")),
                }
                seg = self.i;
                continue;
            }
            self.i += 1;
        }
        Err(self.err("unterminated quoted string"))
    }
}

/// Parses `match[]` values: each must select at least one non-empty matcher.
pub fn parse_match_params(values: &[String]) -> Result<Vec<Vec<Matcher>>, String> {
    let mut out = Vec::new();
    for v in values {
        let m = parse_selector(v)?;
        if m.iter().all(|m| m.matches_empty()) {
            return Err("match[] must contain at least one non-empty matcher".into());
        }
        out.push(m);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(s: &str) -> String {
        parse_selector(s).map(|ms| ms.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(",")).unwrap_or_else(|e| e)
    }

    #[test]
    fn selectors() {
        assert_eq!(show("up"), r#"__name__="up""#);
        assert_eq!(show(r#"up{job="a", i!~'b.*',}"#), r#"__name__="up",job="a",i!~"b.*""#);
        assert_eq!(show(r#"{__name__=~"x|y", a!=`raw\n`}"#), r#"__name__=~"x|y",a!="raw\\n""#);
        assert_eq!(show(r#"{"my.metric", "my.label"="v\u00e9"}"#), "__name__=\"my.metric\",my.label=\"vé\"");
        assert_eq!(show("  node_cpu:rate5m  "), r#"__name__="node_cpu:rate5m""#);
        assert!(show(r#"up{job="a""#).contains("unexpected end of input inside braces"));
        assert!(show("up{").starts_with("1:4: parse error"));
        assert!(show(r#"up{a=~"("}"#).contains("invalid regular expression"));
        assert!(show("up{a}").contains("label matching operator"));
        assert!(show("").contains("unexpected end of input"));
        assert!(show("up x").contains("unexpected character after selector"));
        // Found by fuzzing: an escaped multi-byte character.
        assert!(show("{a=\"\\é\"}").contains("unknown escape sequence"));
    }

    #[test]
    fn match_params_need_a_non_empty_matcher() {
        assert!(parse_match_params(&["{a=\"\"}".into()]).unwrap_err().contains("at least one non-empty matcher"));
        assert!(parse_match_params(&["{a=~\".*\"}".into()]).is_err());
        assert_eq!(parse_match_params(&["up".into(), "{a=\"1\"}".into()]).unwrap().len(), 2);
    }
}
