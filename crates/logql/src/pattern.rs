//! Pattern expressions (`<ip> - <_> "<method> <uri>"`) for the `pattern` parser and the
//! `|>` / `!>` line filters.
//!
//! Matching: a leading literal anchors at the start of the line; a capture runs up to the
//! first occurrence of the next literal (or to the end of the line when it is last).
//! Matching stops at the first literal that is not found.

use crate::units::is_valid_label_name;

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Lit(String),
    /// `None` for `<_>`.
    Cap(Option<String>),
}

/// A compiled pattern.
#[derive(Clone, Debug)]
pub struct Pattern {
    nodes: Vec<Node>,
}

impl Pattern {
    /// Compiles a pattern for the `pattern` parser: needs a named capture, valid and unique
    /// names, no adjacent captures.
    pub fn for_parser(s: &str) -> Result<Pattern, String> {
        let p = Pattern::split(s);
        let mut names: Vec<&str> = Vec::new();
        let mut prev_cap = false;
        for n in &p.nodes {
            match n {
                Node::Cap(name) => {
                    if prev_cap {
                        return Err("found consecutive capture: invalid expression".into());
                    }
                    prev_cap = true;
                    if let Some(name) = name {
                        if names.contains(&name.as_str()) {
                            return Err(format!("duplicate capture name ({name}): invalid expression"));
                        }
                        names.push(name);
                    }
                }
                Node::Lit(_) => prev_cap = false,
            }
        }
        if names.is_empty() {
            return Err("at least one capture is required".into());
        }
        Ok(p)
    }

    /// Compiles a pattern for `|>` / `!>`: only `<_>` captures are allowed.
    pub fn for_filter(s: &str) -> Result<Pattern, String> {
        let p = Pattern::split(s);
        if p.nodes.iter().any(|n| matches!(n, Node::Cap(Some(_)))) {
            return Err("named captures are not allowed".into());
        }
        Ok(p)
    }

    fn split(s: &str) -> Pattern {
        let mut nodes = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('<')
                && let Some(end) = after.find('>')
            {
                let name = after.get(..end).unwrap_or_default();
                if name == "_" || is_valid_label_name(name) {
                    if !lit.is_empty() {
                        nodes.push(Node::Lit(std::mem::take(&mut lit)));
                    }
                    nodes.push(Node::Cap(if name == "_" { None } else { Some(name.to_string()) }));
                    rest = after.get(end + 1..).unwrap_or_default();
                    continue;
                }
            }
            let Some(c) = rest.chars().next() else { break };
            lit.push(c);
            rest = rest.get(c.len_utf8()..).unwrap_or_default();
        }
        if !lit.is_empty() {
            nodes.push(Node::Lit(lit));
        }
        Pattern { nodes }
    }

    /// Matches `line`; returns the named captures found (a prefix on partial matches) and
    /// whether the whole pattern matched.
    pub fn matches<'l>(&self, line: &'l str) -> (Vec<(&str, &'l str)>, bool) {
        let mut out = Vec::new();
        let mut pos = 0usize;
        let mut i = 0usize;
        while let Some(node) = self.nodes.get(i) {
            let rest = line.get(pos..).unwrap_or_default();
            match node {
                Node::Lit(l) => {
                    if !rest.starts_with(l.as_str()) {
                        return (out, false);
                    }
                    pos += l.len();
                    i += 1;
                }
                Node::Cap(name) => {
                    let (value, consumed, skip) = match self.nodes.get(i + 1) {
                        Some(Node::Lit(l)) => match rest.find(l.as_str()) {
                            Some(idx) => (rest.get(..idx).unwrap_or_default(), idx + l.len(), 2),
                            None => return (out, false),
                        },
                        Some(Node::Cap(_)) => ("", 0, 1),
                        None => (rest, rest.len(), 1),
                    };
                    if let Some(n) = name {
                        out.push((n.as_str(), value));
                    }
                    pos += consumed;
                    i += skip;
                }
            }
        }
        (out, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_patterns() {
        let p = Pattern::for_parser(r#"<ip> - <_> "<method> <uri> <_>" <status>"#).unwrap();
        let (caps, full) = p.matches(r#"1.2.3.4 - - "GET /x HTTP/1.1" 200 512"#);
        assert!(full);
        assert_eq!(caps, vec![("ip", "1.2.3.4"), ("method", "GET"), ("uri", "/x"), ("status", "200 512")]);
        let (caps, full) = p.matches("1.2.3.4 nothing");
        assert!(!full);
        assert_eq!(caps, vec![]);
        assert!(Pattern::for_parser("<_> foo").is_err());
        assert!(Pattern::for_parser("<a><b>").is_err());
        assert!(Pattern::for_parser("<a> <a>").is_err());
        let lit = Pattern::for_parser("x <a").unwrap_err();
        assert!(lit.contains("at least one capture"));
    }

    #[test]
    fn filter_patterns() {
        let p = Pattern::for_filter("<_> error <_>").unwrap();
        assert!(p.matches("an error occurred").1);
        assert!(!p.matches("all good").1);
        assert!(Pattern::for_filter("<a> x").is_err());
        let anchored = Pattern::for_filter("GET <_>").unwrap();
        assert!(!anchored.matches("POST GET").1);
    }
}
