//! LogQL tokens. Keywords are returned as identifiers; the parser decides by context, which
//! gives Loki's "a function name is a keyword only before `(`" rule for free.

use crate::Error;
use crate::units::{parse_bytes, parse_go_duration};

/// A token kind with its payload.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// Identifier or keyword.
    Ident(String),
    /// Unquoted string.
    Str(String),
    /// A number.
    Num(f64),
    /// A duration in nanoseconds.
    Duration(i64),
    /// A byte size.
    Bytes(u64),
    /// The text inside `[...]`.
    Range(String),
    /// `--strict`, `--keep-empty` (text without the dashes).
    Flag(String),
    /// An operator or punctuation.
    Op(&'static str),
    /// End of input.
    Eof,
}

impl Tok {
    /// The token as yacc would name it in `unexpected ...`.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(_) => "IDENTIFIER".into(),
            Tok::Str(_) => "STRING".into(),
            Tok::Num(_) => "NUMBER".into(),
            Tok::Duration(_) => "DURATION".into(),
            Tok::Bytes(_) => "BYTES".into(),
            Tok::Range(_) => "RANGE".into(),
            Tok::Flag(f) => format!("--{f}"),
            Tok::Op(o) => (*o).to_string(),
            Tok::Eof => "$end".into(),
        }
    }
}

/// A token and its byte offset.
#[derive(Clone, Debug)]
pub struct Token {
    /// Kind and payload.
    pub tok: Tok,
    /// Byte offset of the first character.
    pub pos: usize,
}

const OPS: [&str; 28] = [
    "|=", "|~", "|>", "!=", "!~", "!>", "=~", "==", ">=", "<=", "|", "=", ">", "<", "+", "-", "*", "/", "%", "^", ",",
    "(", ")", "{", "}", "!", ".", ":",
];

/// Converts a byte offset to Loki's 1-based line and column (column in characters).
pub fn line_col(input: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(input.len());
    let mut line = 1;
    let mut col = 1;
    for (i, c) in input.char_indices() {
        if i >= pos {
            break;
        }
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

/// A positioned syntax error.
pub fn err_at(input: &str, pos: usize, msg: impl Into<String>) -> Error {
    let (line, col) = line_col(input, pos);
    Error::Syntax { line, col, msg: msg.into() }
}

/// Splits the input into tokens; the last one is always `Eof`.
pub fn tokenize(input: &str) -> Result<Vec<Token>, Error> {
    let mut out = Vec::new();
    let bytes = input.as_bytes();
    let mut i = 0usize;
    while i < bytes.len() {
        let Some(c) = input[i..].chars().next() else { break };
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        if c == '#' {
            while i < bytes.len() && bytes.get(i) != Some(&b'\n') {
                i += 1;
            }
            continue;
        }
        let start = i;
        if c == '"' || c == '`' {
            let (s, end) = lex_string(input, i)?;
            out.push(Token { tok: Tok::Str(s), pos: start });
            i = end;
            continue;
        }
        if c == '[' {
            let Some(rel) = input[i + 1..].find(']') else {
                return Err(err_at(input, start, "missing closing ']' in duration"));
            };
            let text = input[i + 1..i + 1 + rel].trim().to_string();
            out.push(Token { tok: Tok::Range(text), pos: start });
            i = i + 1 + rel + 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let (tok, end) = lex_number(input, i)?;
            out.push(Token { tok, pos: start });
            i = end;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let mut end = i;
            for (j, ch) in input[i..].char_indices() {
                if ch.is_alphanumeric() || ch == '_' {
                    end = i + j + ch.len_utf8();
                } else {
                    break;
                }
            }
            out.push(Token { tok: Tok::Ident(input[i..end].to_string()), pos: start });
            i = end;
            continue;
        }
        if input[i..].starts_with("--") && bytes.get(i + 2).is_some_and(u8::is_ascii_alphabetic) {
            let mut end = i + 2;
            while end < bytes.len()
                && bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            {
                end += 1;
            }
            out.push(Token { tok: Tok::Flag(input[i + 2..end].to_string()), pos: start });
            i = end;
            continue;
        }
        let Some(op) = OPS.iter().find(|op| input[i..].starts_with(**op)) else {
            return Err(err_at(input, start, format!("syntax error: unexpected {c:?}")));
        };
        if matches!(*op, "!" | "." | ":") {
            return Err(err_at(input, start, format!("syntax error: unexpected {op}")));
        }
        out.push(Token { tok: Tok::Op(op), pos: start });
        i += op.len();
    }
    out.push(Token { tok: Tok::Eof, pos: input.len() });
    Ok(out)
}

/// Reads a number, duration or byte size starting at `i`.
fn lex_number(input: &str, i: usize) -> Result<(Tok, usize), Error> {
    let mut end = i;
    let mut prev = ' ';
    let mut other_alpha = false;
    for (j, ch) in input[i..].char_indices() {
        let sign_ok = (ch == '+' || ch == '-') && (prev == 'e' || prev == 'E') && !other_alpha;
        if ch.is_ascii_alphanumeric() || ch == '.' || ch == 'µ' || ch == 'μ' || sign_ok {
            if ch.is_alphabetic() && ch != 'e' && ch != 'E' {
                other_alpha = true;
            }
            end = i + j + ch.len_utf8();
            prev = ch;
        } else {
            break;
        }
    }
    // A trailing `e`-sign that is not followed by a digit belongs to the next token.
    let mut text = &input[i..end];
    if text.ends_with(['+', '-']) {
        end -= 1;
        text = &input[i..end];
    }
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))
        && let Ok(v) = u64::from_str_radix(hex, 16)
    {
        return Ok((Tok::Num(v as f64), end));
    }
    let all_numeric = text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if all_numeric && let Ok(v) = text.parse::<f64>() {
        return Ok((Tok::Num(v), end));
    }
    let unit_start = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let unit = &text[unit_start..];
    if !unit.is_empty()
        && unit.chars().all(|c| matches!(c, 'B' | 'i' | 'k' | 'K' | 'M' | 'G' | 'T' | 'P'))
        && let Ok(b) = parse_bytes(text)
    {
        return Ok((Tok::Bytes(b), end));
    }
    if let Some(ms) = seer_model::parse_duration_ms(text)
        && let Some(ns) = ms.checked_mul(1_000_000)
    {
        return Ok((Tok::Duration(ns), end));
    }
    if let Ok(ns) = parse_go_duration(text) {
        return Ok((Tok::Duration(ns), end));
    }
    Err(err_at(input, i, format!("syntax error: unexpected {text:?}: not a number, duration or byte size")))
}

/// Reads a quoted string at `i` (opening quote included); returns the value and the end.
fn lex_string(input: &str, i: usize) -> Result<(String, usize), Error> {
    let quote = input[i..].chars().next().unwrap_or('"');
    let body_start = i + 1;
    if quote == '`' {
        let Some(rel) = input[body_start..].find('`') else {
            return Err(err_at(input, i, "literal not terminated"));
        };
        let end = body_start + rel;
        return Ok((input[body_start..end].to_string(), end + 1));
    }
    let mut buf: Vec<u8> = Vec::new();
    let mut iter = input[body_start..].char_indices();
    while let Some((j, c)) = iter.next() {
        let at = body_start + j;
        match c {
            '"' => {
                let s = String::from_utf8(buf).map_err(|_| err_at(input, i, "invalid UTF-8 rune"))?;
                return Ok((s, at + 1));
            }
            '\n' => return Err(err_at(input, i, "literal not terminated")),
            '\\' => {
                let Some((_, e)) = iter.next() else {
                    return Err(err_at(input, i, "literal not terminated"));
                };
                let simple = match e {
                    'a' => Some(7u8),
                    'b' => Some(8),
                    'f' => Some(12),
                    'n' => Some(b'\n'),
                    'r' => Some(b'\r'),
                    't' => Some(b'\t'),
                    'v' => Some(11),
                    '\\' => Some(b'\\'),
                    '"' => Some(b'"'),
                    _ => None,
                };
                if let Some(b) = simple {
                    buf.push(b);
                    continue;
                }
                match e {
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut v: u32 = 0;
                        for _ in 0..n {
                            let Some((_, h)) = iter.next() else {
                                return Err(err_at(input, at, "invalid char escape"));
                            };
                            let Some(d) = h.to_digit(16) else {
                                return Err(err_at(input, at, "invalid char escape"));
                            };
                            v = v * 16 + d;
                        }
                        if e == 'x' {
                            buf.push(v as u8);
                        } else {
                            let Some(ch) = char::from_u32(v) else {
                                return Err(err_at(input, at, "escape sequence is invalid Unicode code point"));
                            };
                            let mut tmp = [0u8; 4];
                            buf.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                        }
                    }
                    '0'..='7' => {
                        let mut v: u32 = e.to_digit(8).unwrap_or(0);
                        for _ in 0..2 {
                            let Some((_, h)) = iter.next() else {
                                return Err(err_at(input, at, "invalid char escape"));
                            };
                            let Some(d) = h.to_digit(8) else {
                                return Err(err_at(input, at, "invalid char escape"));
                            };
                            v = v * 8 + d;
                        }
                        if v > 255 {
                            return Err(err_at(input, at, "octal escape value > 255"));
                        }
                        buf.push(v as u8);
                    }
                    _ => return Err(err_at(input, at, "invalid char escape")),
                }
            }
            c => {
                let mut tmp = [0u8; 4];
                buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            }
        }
    }
    Err(err_at(input, i, "literal not terminated"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn numbers_durations_bytes() {
        assert_eq!(kinds("0.123e3"), vec![Tok::Num(123.0), Tok::Eof]);
        assert_eq!(kinds("1e-3"), vec![Tok::Num(0.001), Tok::Eof]);
        assert_eq!(kinds("5m"), vec![Tok::Duration(300_000_000_000), Tok::Eof]);
        assert_eq!(kinds("1.5m"), vec![Tok::Duration(90_000_000_000), Tok::Eof]);
        assert_eq!(kinds("20MB"), vec![Tok::Bytes(20_000_000), Tok::Eof]);
        assert_eq!(kinds("1KiB"), vec![Tok::Bytes(1024), Tok::Eof]);
        assert!(tokenize("2w3y").is_err());
        assert!(tokenize("20kb").is_err());
        assert!(tokenize("5.5y").is_err());
        assert_eq!(kinds("5y2w3d4h5m6s").len(), 2);
    }

    #[test]
    fn strings() {
        assert_eq!(kinds(r#""a\"b\n\u00e9""#), vec![Tok::Str("a\"b\né".into()), Tok::Eof]);
        assert_eq!(kinds("`a\\d`"), vec![Tok::Str("a\\d".into()), Tok::Eof]);
        let e = tokenize("{a=\"b").unwrap_err();
        assert_eq!(e.to_string(), "parse error at line 1, col 4: literal not terminated");
        assert!(tokenize("\"\\xff\"").is_err());
        assert!(tokenize("\"\\q\"").is_err());
    }

    #[test]
    fn flags_ranges_comments() {
        assert_eq!(
            kinds("--strict [5m] # hi\n|="),
            vec![Tok::Flag("strict".into()), Tok::Range("5m".into()), Tok::Op("|="), Tok::Eof]
        );
        assert!(tokenize("[5m").is_err());
    }
}
