//! The PromQL lexer, following Prometheus' `promql/parser/lex.go`: identifiers, keywords,
//! numbers (decimal, hex, exponent, `Inf`, `NaN`, underscores), durations (`1h30m`), the three
//! string quotings, operators, and comments.

/// Token kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// Identifier or keyword (metric names may contain `:`).
    Ident(String),
    /// A quoted string's raw bytes (Go strings may hold invalid UTF-8 via `\x` escapes).
    Str(Vec<u8>),
    /// A number literal.
    Number(f64),
    /// A duration literal, milliseconds.
    Duration(i64),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Colon,
    At,
    /// `=` (matchers, not an operator)
    Assign,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eql,
    Neq,
    Lss,
    Gtr,
    Lte,
    Gte,
    EqlRegex,
    NeqRegex,
    /// `</` (trim upper)
    TrimUpper,
    /// `>/` (trim lower)
    TrimLower,
    Eof,
}

/// A token and its byte span.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// Kind and payload.
    pub tok: Tok,
    /// Start byte offset.
    pub start: usize,
    /// End byte offset (exclusive).
    pub end: usize,
}

/// A lexing error at a byte offset.
#[derive(Clone, Debug, PartialEq)]
pub struct LexError {
    /// Where.
    pub pos: usize,
    /// What.
    pub msg: String,
}

/// Splits `input` into tokens (ending with `Eof`).
pub fn lex(input: &str) -> Result<Vec<Token>, LexError> {
    let b = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // Brace depth: inside `{...}` identifiers are label names and `=` is a matcher.
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' => {
                i += 1;
                out.push(Token { tok: Tok::LParen, start, end: i });
            }
            b')' => {
                i += 1;
                out.push(Token { tok: Tok::RParen, start, end: i });
            }
            b'{' => {
                i += 1;
                out.push(Token { tok: Tok::LBrace, start, end: i });
            }
            b'}' => {
                i += 1;
                out.push(Token { tok: Tok::RBrace, start, end: i });
            }
            b'[' => {
                i += 1;
                out.push(Token { tok: Tok::LBracket, start, end: i });
            }
            b']' => {
                i += 1;
                out.push(Token { tok: Tok::RBracket, start, end: i });
            }
            b',' => {
                i += 1;
                out.push(Token { tok: Tok::Comma, start, end: i });
            }
            b':' => {
                i += 1;
                out.push(Token { tok: Tok::Colon, start, end: i });
            }
            b'@' => {
                i += 1;
                out.push(Token { tok: Tok::At, start, end: i });
            }
            b'+' => {
                i += 1;
                out.push(Token { tok: Tok::Add, start, end: i });
            }
            b'-' => {
                i += 1;
                out.push(Token { tok: Tok::Sub, start, end: i });
            }
            b'*' => {
                i += 1;
                out.push(Token { tok: Tok::Mul, start, end: i });
            }
            b'/' => {
                i += 1;
                out.push(Token { tok: Tok::Div, start, end: i });
            }
            b'%' => {
                i += 1;
                out.push(Token { tok: Tok::Mod, start, end: i });
            }
            b'^' => {
                i += 1;
                out.push(Token { tok: Tok::Pow, start, end: i });
            }
            b'=' => {
                let (tok, n) = match b.get(i + 1) {
                    Some(b'=') => (Tok::Eql, 2),
                    Some(b'~') => (Tok::EqlRegex, 2),
                    _ => (Tok::Assign, 1),
                };
                i += n;
                out.push(Token { tok, start, end: i });
            }
            b'!' => {
                let (tok, n) = match b.get(i + 1) {
                    Some(b'=') => (Tok::Neq, 2),
                    Some(b'~') => (Tok::NeqRegex, 2),
                    _ => {
                        return Err(LexError {
                            pos: i,
                            msg: "unexpected character after '!': ".to_string() + &char_at(input, i + 1),
                        });
                    }
                };
                i += n;
                out.push(Token { tok, start, end: i });
            }
            b'<' => {
                let (tok, n) = match b.get(i + 1) {
                    Some(b'=') => (Tok::Lte, 2),
                    Some(b'/') => (Tok::TrimUpper, 2),
                    _ => (Tok::Lss, 1),
                };
                i += n;
                out.push(Token { tok, start, end: i });
            }
            b'>' => {
                let (tok, n) = match b.get(i + 1) {
                    Some(b'=') => (Tok::Gte, 2),
                    Some(b'/') => (Tok::TrimLower, 2),
                    _ => (Tok::Gtr, 1),
                };
                i += n;
                out.push(Token { tok, start, end: i });
            }
            b'"' | b'\'' => {
                let (v, n) = lex_quoted(input, i)?;
                i = n;
                out.push(Token { tok: Tok::Str(v), start, end: i });
            }
            b'`' => {
                let Some(len) = input[i + 1..].find('`') else {
                    return Err(LexError { pos: i, msg: "unterminated raw string".into() });
                };
                let v = input.as_bytes()[i + 1..i + 1 + len].to_vec();
                i += len + 2;
                out.push(Token { tok: Tok::Str(v), start, end: i });
            }
            b'0'..=b'9' | b'.' => {
                let (tok, n) = lex_number_or_duration(input, i)?;
                i = n;
                out.push(Token { tok, start, end: i });
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                    i += 1;
                }
                let word = &input[start..i];
                let lower = word.to_ascii_lowercase();
                let tok = match lower.as_str() {
                    "inf" => Tok::Number(f64::INFINITY),
                    "nan" => Tok::Number(f64::NAN),
                    _ => Tok::Ident(word.to_string()),
                };
                out.push(Token { tok, start, end: i });
            }
            _ => {
                return Err(LexError { pos: i, msg: format!("unexpected character: {}", char_at(input, i)) });
            }
        }
    }
    out.push(Token { tok: Tok::Eof, start: b.len(), end: b.len() });
    Ok(out)
}

fn char_at(s: &str, i: usize) -> String {
    match s.get(i..).and_then(|r| r.chars().next()) {
        Some(c) => format!("{c:?}"),
        None => "EOF".into(),
    }
}

use seer_model::DURATION_UNITS as UNITS;

fn lex_number_or_duration(s: &str, start: usize) -> Result<(Tok, usize), LexError> {
    let b = s.as_bytes();
    let bad = |pos: usize| {
        // The offending text, extended to a whole character.
        let mut end = pos.min(s.len());
        while !s.is_char_boundary(end) {
            end += 1;
        }
        LexError { pos: start, msg: format!("bad number or duration syntax: {:?}", &s[start..end]) }
    };
    // Hexadecimal.
    if b[start] == b'0' && matches!(b.get(start + 1), Some(b'x' | b'X')) {
        let mut i = start + 2;
        while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == b'_') {
            i += 1;
        }
        let digits: String = s[start + 2..i].chars().filter(|&c| c != '_').collect();
        let v = u64::from_str_radix(&digits, 16).map_err(|_| bad(i))?;
        if i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
            return Err(bad(i + 1));
        }
        return Ok((Tok::Number(v as f64), i));
    }
    // Duration: digits followed by a unit, repeated.
    let mut i = start;
    let mut total: i64 = 0;
    let mut is_duration = false;
    let mut unit_idx = 0;
    loop {
        let ds = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == ds {
            break;
        }
        let us = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[us..i];
        match UNITS.iter().position(|(u, _)| *u == unit) {
            Some(p) if p >= unit_idx || !is_duration => {
                if is_duration && p < unit_idx {
                    return Err(bad(i));
                }
                let n: i64 = s[ds..us].parse().map_err(|_| bad(i))?;
                total = total.checked_add(n.checked_mul(UNITS[p].1).ok_or_else(|| bad(i))?).ok_or_else(|| bad(i))?;
                unit_idx = p + 1;
                is_duration = true;
            }
            _ => {
                i = ds;
                break;
            }
        }
    }
    if is_duration {
        if i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
            return Err(bad(i + 1));
        }
        return Ok((Tok::Duration(total), i));
    }
    // Decimal number with optional fraction, exponent and underscores between digits.
    let mut i = start;
    let digits = |i: &mut usize| {
        let s0 = *i;
        while *i < b.len()
            && (b[*i].is_ascii_digit()
                || (b[*i] == b'_' && *i > s0 && b.get(*i + 1).is_some_and(|c| c.is_ascii_digit())))
        {
            *i += 1;
        }
        *i > s0
    };
    let int = digits(&mut i);
    let mut frac = false;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        frac = digits(&mut i);
    }
    if !int && !frac {
        return Err(bad(i + 1));
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let save = i;
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            i = save;
        }
    }
    if i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
        return Err(bad(i + 1));
    }
    let text: String = s[start..i].chars().filter(|&c| c != '_').collect();
    let v: f64 = text.parse().map_err(|_| bad(i))?;
    Ok((Tok::Number(v), i))
}

/// Lexes a `"` or `'` string with Go escapes; returns the bytes and the end offset.
fn lex_quoted(s: &str, start: usize) -> Result<(Vec<u8>, usize), LexError> {
    let b = s.as_bytes();
    let q = b[start];
    let mut out = Vec::new();
    let mut i = start + 1;
    let err = |pos: usize, msg: &str| LexError { pos, msg: msg.to_string() };
    while i < b.len() {
        let c = b[i];
        if c == q {
            return Ok((out, i + 1));
        }
        if c == b'\n' {
            return Err(err(start, "unterminated quoted string"));
        }
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let Some(&e) = b.get(i + 1) else { return Err(err(start, "unterminated quoted string")) };
        i += 2;
        match e {
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'\\' => out.push(b'\\'),
            b'"' if q == b'"' => out.push(b'"'),
            b'\'' if q == b'\'' => out.push(b'\''),
            b'x' => {
                let h = s
                    .get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| err(i, "invalid escape sequence"))?;
                out.push(h);
                i += 2;
            }
            b'0'..=b'7' => {
                let o = s
                    .get(i - 1..i + 2)
                    .and_then(|h| u16::from_str_radix(h, 8).ok())
                    .filter(|&v| v <= 255)
                    .ok_or_else(|| err(i, "invalid escape sequence"))?;
                out.push(o as u8);
                i += 2;
            }
            b'u' | b'U' => {
                let n = if e == b'u' { 4 } else { 8 };
                let ch = s
                    .get(i..i + n)
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32)
                    .ok_or_else(|| err(i, "invalid escape sequence"))?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                i += n;
            }
            _ => return Err(err(i - 2, &format!("unknown escape sequence {:?}", e as char))),
        }
    }
    Err(err(start, "unterminated quoted string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn bad_number_before_multibyte_char_is_an_error_not_a_panic() {
        assert!(lex("x{a=~\".\"}.\u{560}info").is_err() || lex(".\u{560}").is_err());
        assert!(lex(".\u{560}").is_err());
    }

    #[test]
    fn numbers_durations_strings() {
        let t = toks("1 1.5 .5 1e3 0x1F 1_000 Inf NaN");
        let nums: Vec<f64> = t.iter().filter_map(|t| if let Tok::Number(n) = t { Some(*n) } else { None }).collect();
        assert_eq!(&nums[..7], &[1.0, 1.5, 0.5, 1000.0, 31.0, 1000.0, f64::INFINITY]);
        assert!(nums[7].is_nan());
        assert_eq!(
            toks("5m 1h30m 100ms 2d"),
            vec![
                Tok::Duration(300_000),
                Tok::Duration(5_400_000),
                Tok::Duration(100),
                Tok::Duration(172_800_000),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks(r#""a\n\"b" 'c\'' `r\n`"#),
            vec![Tok::Str(b"a\n\"b".to_vec()), Tok::Str(b"c'".to_vec()), Tok::Str(b"r\\n".to_vec()), Tok::Eof]
        );
        assert_eq!(toks(r#""a\xc5z""#), vec![Tok::Str(vec![b'a', 0xc5, b'z']), Tok::Eof]);
        assert!(lex("1m5").is_err());
        assert!(lex("\"abc").is_err());
    }

    #[test]
    fn operators() {
        assert_eq!(
            toks("a</b >/ c <= >= =~ !~ != == # comment\n"),
            vec![
                Tok::Ident("a".into()),
                Tok::TrimUpper,
                Tok::Ident("b".into()),
                Tok::TrimLower,
                Tok::Ident("c".into()),
                Tok::Lte,
                Tok::Gte,
                Tok::EqlRegex,
                Tok::NeqRegex,
                Tok::Neq,
                Tok::Eql,
                Tok::Eof
            ]
        );
    }
}
