//! The Prometheus text exposition format (0.0.4, and 1.0.0's quoted UTF-8 names) and
//! OpenMetrics 1.0 text, as scraped from targets.
//!
//! The parser is line-oriented and returns every sample before the first error together
//! with the error, because a failed scrape still reports how many samples it read.
//! Like Prometheus 3, `le` values of histogram families and `quantile` values of summary
//! families are normalised (`1` → `1.0`), so the same bucket has one series whatever the
//! exporter's float formatting.

use seer_model::{Exemplar, Labels, MetricMetadata, MetricType};

/// Which grammar to parse with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format.
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// Chooses the parser from a response `Content-Type`: OpenMetrics for
    /// `application/openmetrics-text`, the Prometheus text format otherwise (including a
    /// missing header, where Prometheus 3 would need `fallback_scrape_protocol`).
    pub fn from_content_type(ct: Option<&str>) -> Format {
        match ct {
            Some(ct) if ct.trim().to_ascii_lowercase().starts_with("application/openmetrics-text") => {
                Format::OpenMetrics
            }
            _ => Format::Text,
        }
    }
}

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedSample {
    /// Metric name as exposed.
    pub name: String,
    /// Labels as exposed, in order, escapes resolved, empty values kept.
    pub labels: Vec<(String, String)>,
    /// Value (any NaN is the canonical NaN; staleness markers cannot be exposed).
    pub value: f64,
    /// Explicit timestamp, ms.
    pub timestamp: Option<i64>,
    /// OpenMetrics exemplar.
    pub exemplar: Option<Exemplar>,
}

/// A parse error with its 1-based line.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// Line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// What a body held.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    /// Samples, in order.
    pub samples: Vec<ParsedSample>,
    /// Metric family metadata from `# HELP`, `# TYPE`, `# UNIT`.
    pub metadata: Vec<MetricMetadata>,
    /// The first error; samples after it were not read.
    pub error: Option<ParseError>,
}

/// Canonical NaN, as Prometheus stores scraped NaNs.
const NORMAL_NAN: u64 = 0x7ff8_0000_0000_0001;

/// Parses a whole body.
pub fn parse(body: &[u8], format: Format) -> Parsed {
    let mut p = Parser { format, out: Parsed::default(), types: Vec::new(), saw_eof: false };
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) => {
            // Parse the valid prefix, then report the bad byte's line.
            let valid = &body[..e.valid_up_to()];
            let prefix = std::str::from_utf8(valid).unwrap_or("");
            let line = prefix.matches('\n').count() + 1;
            let cut = prefix.rfind('\n').map(|i| i + 1).unwrap_or(0);
            let mut p2 = Parser { format, out: Parsed::default(), types: Vec::new(), saw_eof: false };
            p2.run(&prefix[..cut]);
            let mut out = p2.out;
            if out.error.is_none() {
                out.error = Some(ParseError { line, message: "invalid UTF-8".into() });
            }
            return out;
        }
    };
    p.run(text);
    p.out
}

struct Parser {
    format: Format,
    out: Parsed,
    /// (family, type) from TYPE lines.
    types: Vec<(String, MetricType)>,
    saw_eof: bool,
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !f(c) {
                break;
            }
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }
    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}
fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}
fn is_label_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}
fn is_label_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl Parser {
    fn run(&mut self, text: &str) {
        let lines: Vec<&str> = text.split('\n').collect();
        // A final newline ends the last line; it does not start an empty one.
        let n = if lines.last() == Some(&"") { lines.len() - 1 } else { lines.len() };
        for (i, raw) in lines[..n].iter().enumerate() {
            let line_no = i + 1;
            if self.saw_eof {
                if !raw.is_empty() {
                    self.fail(line_no, "unexpected data after # EOF");
                    return;
                }
                continue;
            }
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if let Err(msg) = self.line(line) {
                self.fail(line_no, &msg);
                return;
            }
        }
        if self.format == Format::OpenMetrics && !self.saw_eof {
            let n = text.matches('\n').count() + 1;
            self.fail(n, "data does not end with # EOF");
        }
    }

    fn fail(&mut self, line: usize, msg: &str) {
        self.out.error = Some(ParseError { line, message: msg.to_string() });
    }

    fn line(&mut self, line: &str) -> Result<(), String> {
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() {
            return if self.format == Format::OpenMetrics { Err("blank lines are not allowed".into()) } else { Ok(()) };
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            return self.comment(comment);
        }
        let s = self.sample(trimmed)?;
        self.out.samples.push(s);
        Ok(())
    }

    fn comment(&mut self, c: &str) -> Result<(), String> {
        if self.format == Format::OpenMetrics && c.trim_end() == " EOF" {
            self.saw_eof = true;
            return Ok(());
        }
        if !c.starts_with([' ', '\t']) {
            return if self.format == Format::OpenMetrics { Err(format!("invalid comment {:?}", c)) } else { Ok(()) };
        }
        let c = c.trim_start_matches([' ', '\t']);
        let (kw, rest) = match c.find([' ', '\t']) {
            Some(i) => (&c[..i], c[i..].trim_start_matches([' ', '\t'])),
            None => (c, ""),
        };
        match kw {
            "HELP" | "TYPE" | "UNIT" => {}
            _ => {
                return if self.format == Format::OpenMetrics {
                    Err(format!("invalid comment keyword {kw:?}"))
                } else {
                    Ok(())
                };
            }
        }
        if kw == "UNIT" && self.format == Format::Text {
            return Ok(());
        }
        let mut cur = Cursor { s: rest, pos: 0 };
        let name = if cur.peek() == Some(b'"') {
            read_quoted(&mut cur)?
        } else {
            let n = cur.take_while(is_name_char);
            if n.is_empty() || !is_name_start(n.as_bytes()[0]) {
                return Err(format!("invalid metric name in {kw} line"));
            }
            n.to_string()
        };
        let tail = cur.rest();
        let text = match tail.strip_prefix([' ', '\t']) {
            Some(t) => t,
            None if tail.is_empty() => "",
            None => return Err(format!("invalid {kw} line")),
        };
        match kw {
            "HELP" => {
                let help = unescape_help(text, self.format);
                self.meta(&name).help = help;
            }
            "TYPE" => {
                let t = text.trim_end_matches([' ', '\t']);
                let kind = match (self.format, t) {
                    (_, "counter") => MetricType::Counter,
                    (_, "gauge") => MetricType::Gauge,
                    (_, "histogram") => MetricType::Histogram,
                    (_, "summary") => MetricType::Summary,
                    (Format::Text, "untyped") => MetricType::Unknown,
                    (Format::OpenMetrics, "unknown") => MetricType::Unknown,
                    (Format::OpenMetrics, "gaugehistogram") => MetricType::GaugeHistogram,
                    (Format::OpenMetrics, "stateset") => MetricType::StateSet,
                    (Format::OpenMetrics, "info") => MetricType::Info,
                    _ => return Err(format!("invalid metric type {t:?}")),
                };
                self.meta(&name).kind = kind;
                self.types.retain(|(n, _)| n != &name);
                self.types.push((name, kind));
            }
            _ => {
                let unit = text.trim_end();
                if !unit.is_empty() && !name.ends_with(&format!("_{unit}")) {
                    return Err(format!("unit {unit:?} not a suffix of metric {name:?}"));
                }
                self.meta(&name).unit = unit.to_string();
            }
        }
        Ok(())
    }

    fn meta(&mut self, family: &str) -> &mut MetricMetadata {
        let i = match self.out.metadata.iter().position(|m| m.metric_family == family) {
            Some(i) => i,
            None => {
                self.out.metadata.push(MetricMetadata { metric_family: family.to_string(), ..Default::default() });
                self.out.metadata.len() - 1
            }
        };
        &mut self.out.metadata[i]
    }

    /// The type of the family a sample name belongs to (the last TYPE line that names it
    /// or its base name).
    fn family_type(&self, name: &str) -> MetricType {
        for (fam, t) in self.types.iter().rev() {
            if name == fam {
                return *t;
            }
            if let Some(suffix) = name.strip_prefix(fam.as_str())
                && matches!(
                    suffix,
                    "_bucket" | "_sum" | "_count" | "_total" | "_created" | "_gcount" | "_gsum" | "_info"
                )
            {
                return *t;
            }
        }
        MetricType::Unknown
    }

    fn sample(&self, line: &str) -> Result<ParsedSample, String> {
        let om = self.format == Format::OpenMetrics;
        let mut cur = Cursor { s: line, pos: 0 };
        let mut name = String::new();
        if cur.peek().is_some_and(is_name_start) {
            name = cur.take_while(is_name_char).to_string();
        } else if cur.peek() != Some(b'{') {
            return Err(format!("{:?} is not a valid start token", first_token(line)));
        }
        let mut labels: Vec<(String, String)> = Vec::new();
        if !om {
            cur.skip_ws();
        }
        if cur.eat(b'{') {
            loop {
                if !om {
                    cur.skip_ws();
                }
                if cur.eat(b'}') {
                    break;
                }
                let lname = if cur.peek() == Some(b'"') {
                    let q = read_quoted(&mut cur)?;
                    if !om {
                        cur.skip_ws();
                    }
                    if cur.peek() != Some(b'=') {
                        // A quoted string alone is the metric name (text 1.0.0).
                        if !name.is_empty() {
                            return Err("metric name given twice".into());
                        }
                        name = q;
                        if !om {
                            cur.skip_ws();
                        }
                        if cur.eat(b',') {
                            continue;
                        }
                        if cur.eat(b'}') {
                            break;
                        }
                        return Err("expected , or } after the metric name".into());
                    }
                    q
                } else {
                    let n = cur.take_while(is_label_char);
                    if n.is_empty() || !is_label_start(n.as_bytes()[0]) {
                        return Err(format!("expected label name, got {:?}", first_token(cur.rest())));
                    }
                    n.to_string()
                };
                if !om {
                    cur.skip_ws();
                }
                if !cur.eat(b'=') {
                    return Err(format!("expected equal, got {:?}", first_token(cur.rest())));
                }
                if !om {
                    cur.skip_ws();
                }
                if cur.peek() != Some(b'"') {
                    return Err(format!("expected label value, got {:?}", first_token(cur.rest())));
                }
                let v = read_quoted(&mut cur)?;
                labels.push((lname, v));
                if !om {
                    cur.skip_ws();
                }
                if cur.eat(b',') {
                    continue;
                }
                if cur.eat(b'}') {
                    break;
                }
                return Err(format!("expected comma or closing brace, got {:?}", first_token(cur.rest())));
            }
        }
        if name.is_empty() {
            return Err("sample without a metric name".into());
        }
        // Value.
        if om {
            if !cur.eat(b' ') {
                return Err("expected a space before the value".into());
            }
        } else {
            cur.skip_ws();
        }
        let vtok = cur.take_while(|c| c != b' ' && c != b'\t');
        if vtok.is_empty() {
            return Err("expected value after metric".into());
        }
        let mut value = parse_float(vtok).ok_or_else(|| format!("invalid value {vtok:?}"))?;
        if value.is_nan() {
            value = f64::from_bits(NORMAL_NAN);
        }
        // Timestamp and exemplar.
        let mut timestamp = None;
        let mut exemplar = None;
        if om {
            if cur.eat(b' ') {
                if cur.peek() != Some(b'#') {
                    let tok = cur.take_while(|c| c != b' ');
                    let secs = parse_float(tok)
                        .filter(|f| f.is_finite())
                        .ok_or_else(|| format!("invalid timestamp {tok:?}"))?;
                    timestamp = Some((secs * 1000.0) as i64);
                    if !cur.eat(b' ') && !cur.at_end() {
                        return Err("expected a space after the timestamp".into());
                    }
                }
                if cur.peek() == Some(b'#') {
                    exemplar = Some(parse_exemplar(&mut cur, timestamp)?);
                }
            }
            if !cur.at_end() {
                return Err(format!("unexpected {:?} at the end of the sample", cur.rest()));
            }
        } else {
            cur.skip_ws();
            if !cur.at_end() {
                let tok = cur.take_while(|c| c != b' ' && c != b'\t');
                if !tok.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(format!("expected timestamp or new record, got {tok:?}"));
                }
                timestamp = Some(tok.parse::<i64>().map_err(|_| format!("timestamp {tok:?} out of range"))?);
                cur.skip_ws();
                if !cur.at_end() {
                    return Err(format!("expected next entry after timestamp, got {:?}", first_token(cur.rest())));
                }
            }
        }
        // Normalise le / quantile of histogram and summary families.
        let kind = self.family_type(&name);
        for (n, v) in labels.iter_mut() {
            let normalise = (n == "le" && matches!(kind, MetricType::Histogram | MetricType::GaugeHistogram))
                || (n == "quantile" && kind == MetricType::Summary);
            if normalise && let Some(f) = parse_float(v) {
                *v = format_openmetrics_float(f);
            }
        }
        Ok(ParsedSample { name, labels, value, timestamp, exemplar })
    }
}

fn first_token(s: &str) -> &str {
    let end = s.find([' ', '\t']).unwrap_or(s.len());
    if end == 0 { "INVALID" } else { &s[..end] }
}

fn parse_exemplar(cur: &mut Cursor<'_>, sample_ts: Option<i64>) -> Result<Exemplar, String> {
    if !cur.eat(b'#') || !cur.eat(b' ') || !cur.eat(b'{') {
        return Err("invalid exemplar".into());
    }
    let mut pairs = Vec::new();
    if !cur.eat(b'}') {
        loop {
            let n =
                if cur.peek() == Some(b'"') { read_quoted(cur)? } else { cur.take_while(is_label_char).to_string() };
            if n.is_empty() || !cur.eat(b'=') || cur.peek() != Some(b'"') {
                return Err("invalid exemplar labels".into());
            }
            let v = read_quoted(cur)?;
            pairs.push(seer_model::Label { name: n, value: v });
            if cur.eat(b',') {
                continue;
            }
            if cur.eat(b'}') {
                break;
            }
            return Err("invalid exemplar labels".into());
        }
    }
    let runes: usize = pairs.iter().map(|l| l.name.chars().count() + l.value.chars().count()).sum();
    if runes > 128 {
        return Err(format!("exemplar labels have {runes} UTF-8 characters, exceeding the limit of 128"));
    }
    let labels = Labels::from_pairs_checked(pairs).map_err(|n| format!("duplicate exemplar label {n:?}"))?;
    if !cur.eat(b' ') {
        return Err("expected the exemplar value".into());
    }
    let vt = cur.take_while(|c| c != b' ');
    let v = parse_float(vt).ok_or_else(|| format!("invalid exemplar value {vt:?}"))?;
    let mut t = sample_ts;
    if cur.eat(b' ') {
        let tt = cur.take_while(|c| c != b' ');
        let secs =
            parse_float(tt).filter(|f| f.is_finite()).ok_or_else(|| format!("invalid exemplar timestamp {tt:?}"))?;
        t = Some((secs * 1000.0) as i64);
    }
    // A missing timestamp is filled in by the scraper with the scrape time.
    Ok(Exemplar { labels, t: t.unwrap_or(i64::MIN), v })
}

fn read_quoted(cur: &mut Cursor<'_>) -> Result<String, String> {
    if !cur.eat(b'"') {
        return Err("expected a quoted string".into());
    }
    let mut out = String::new();
    let bytes = cur.s.as_bytes();
    let mut start = cur.pos;
    while cur.pos < bytes.len() {
        match bytes[cur.pos] {
            b'"' => {
                out.push_str(&cur.s[start..cur.pos]);
                cur.pos += 1;
                return Ok(out);
            }
            b'\\' => {
                out.push_str(&cur.s[start..cur.pos]);
                match bytes.get(cur.pos + 1) {
                    Some(b'n') => out.push('\n'),
                    Some(b'"') => out.push('"'),
                    Some(b'\\') => out.push('\\'),
                    Some(_) => {
                        // Unknown escapes stay as written, as in Prometheus.
                        let ch = cur.s[cur.pos + 1..].chars().next().unwrap_or('\\');
                        out.push('\\');
                        out.push(ch);
                        cur.pos += ch.len_utf8() - 1;
                    }
                    None => return Err("unterminated quoted string".into()),
                }
                cur.pos += 2;
                start = cur.pos;
            }
            _ => cur.pos += 1,
        }
    }
    Err("unterminated quoted string".into())
}

fn unescape_help(s: &str, format: Format) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.peek() {
                Some('n') => {
                    out.push('\n');
                    it.next();
                }
                Some('\\') => {
                    out.push('\\');
                    it.next();
                }
                Some('"') if format == Format::OpenMetrics => {
                    out.push('"');
                    it.next();
                }
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses a float as Go's `strconv.ParseFloat` does for exposition values, refusing the
/// hexadecimal and underscore forms Prometheus refuses.
pub fn parse_float(s: &str) -> Option<f64> {
    if s.contains(['p', 'P', '_']) {
        return None;
    }
    let l = s.to_ascii_lowercase();
    let (sign, body) = match l.as_bytes().first() {
        Some(b'+') => (1.0, &l[1..]),
        Some(b'-') => (-1.0, &l[1..]),
        _ => (1.0, &l[..]),
    };
    match body {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-')) {
        return None;
    }
    s.parse::<f64>().ok()
}

pub use seer_model::{format_openmetrics_float, go_format_g};

#[cfg(test)]
mod tests;
