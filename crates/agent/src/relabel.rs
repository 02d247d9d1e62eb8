//! `relabel_configs` and `metric_relabel_configs`: Prometheus relabeling rules and their
//! application to a label set.

use md5::{Digest, Md5};
use regex::Regex;
use seer_model::LabelsBuilder;
use serde::Deserialize;

/// One relabeling rule as written in YAML.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    /// Labels whose values are joined to form the input.
    #[serde(default)]
    pub source_labels: Vec<String>,
    /// Join separator (`;`).
    #[serde(default)]
    pub separator: Option<String>,
    /// Pattern, fully anchored (`(.*)`).
    #[serde(default)]
    pub regex: Option<String>,
    /// For `hashmod`.
    #[serde(default)]
    pub modulus: Option<u64>,
    /// Label written by the rule.
    #[serde(default)]
    pub target_label: Option<String>,
    /// Template (`$1`).
    #[serde(default)]
    pub replacement: Option<String>,
    /// Action (`replace`), case-insensitive.
    #[serde(default)]
    pub action: Option<String>,
}

/// Relabeling actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Set `target_label` to the expanded replacement when the regex matches.
    Replace,
    /// Drop unless the regex matches.
    Keep,
    /// Drop if the regex matches.
    Drop,
    /// Drop unless `target_label`'s value equals the input.
    KeepEqual,
    /// Drop if `target_label`'s value equals the input.
    DropEqual,
    /// `target_label` = md5(input) mod `modulus`.
    HashMod,
    /// Copy labels whose names match to renamed labels.
    LabelMap,
    /// Remove labels whose names match.
    LabelDrop,
    /// Remove labels whose names do not match.
    LabelKeep,
    /// `target_label` = lowercase input.
    Lowercase,
    /// `target_label` = uppercase input.
    Uppercase,
}

/// A validated, compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    action: Action,
    sources: Vec<String>,
    separator: String,
    regex: Regex,
    modulus: u64,
    target: String,
    replacement: String,
}

fn is_valid_name(s: &str) -> bool {
    // Prometheus 3 accepts any non-empty UTF-8 label name.
    !s.is_empty()
}

impl RelabelConfig {
    /// Checks the rule; errors are worded like Prometheus'.
    pub fn validate(&self) -> Result<(), String> {
        self.compile().map(|_| ())
    }

    /// Compiles the rule.
    pub fn compile(&self) -> Result<Rule, String> {
        let action_s = self.action.as_deref().unwrap_or("replace").to_ascii_lowercase();
        let action = match action_s.as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            other => return Err(format!("unknown relabel action {other:?}")),
        };
        let pattern = self.regex.clone().unwrap_or_else(|| "(.*)".to_string());
        let regex = Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| format!("error parsing regexp: {e}"))?;
        let target = self.target_label.clone().unwrap_or_default();
        let replacement = self.replacement.clone().unwrap_or_else(|| "$1".to_string());
        let separator = self.separator.clone().unwrap_or_else(|| ";".to_string());
        for s in &self.source_labels {
            if !is_valid_name(s) {
                return Err(format!("{s:?} is not a valid label name"));
            }
        }
        let needs_target = matches!(
            action,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if needs_target && target.is_empty() {
            return Err(format!("relabel configuration for {action_s} action requires 'target_label' value"));
        }
        if action == Action::HashMod && self.modulus.unwrap_or(0) == 0 {
            return Err("relabel configuration for hashmod requires non-zero modulus".into());
        }
        if matches!(action, Action::LabelDrop | Action::LabelKeep)
            && (!self.source_labels.is_empty()
                || self.target_label.is_some()
                || self.modulus.is_some()
                || separator != ";"
                || replacement != "$1")
        {
            return Err(format!("{action_s} action requires only 'regex', and no other fields"));
        }
        if matches!(action, Action::KeepEqual | Action::DropEqual)
            && (self.regex.is_some() || self.modulus.is_some() || separator != ";" || replacement != "$1")
        {
            return Err(format!(
                "{action_s} action requires only 'source_labels' and `target_label`, and no other fields"
            ));
        }
        if matches!(action, Action::Lowercase | Action::Uppercase) && replacement != "$1" {
            return Err(format!("'replacement' can not be set for {action_s} action"));
        }
        Ok(Rule {
            action,
            sources: self.source_labels.clone(),
            separator,
            regex,
            modulus: self.modulus.unwrap_or(0),
            target,
            replacement,
        })
    }
}

/// Compiles a list of rules.
pub fn compile_all(configs: &[RelabelConfig]) -> Result<Vec<Rule>, String> {
    configs.iter().map(|c| c.compile()).collect()
}

/// Applies `rules` in order. Returns false when a rule drops the label set.
pub fn process(rules: &[Rule], lb: &mut LabelsBuilder) -> bool {
    for r in rules {
        if !r.apply(lb) {
            return false;
        }
    }
    true
}

impl Rule {
    fn apply(&self, lb: &mut LabelsBuilder) -> bool {
        let val = self.sources.iter().map(|s| lb.get(s)).collect::<Vec<_>>().join(&self.separator);
        match self.action {
            Action::Keep => return self.regex.is_match(&val),
            Action::Drop => return !self.regex.is_match(&val),
            Action::KeepEqual => return lb.get(&self.target) == val,
            Action::DropEqual => return lb.get(&self.target) != val,
            Action::Replace => {
                let Some(caps) = self.regex.captures(&val) else { return true };
                let mut target = String::new();
                caps.expand(&self.target, &mut target);
                if !is_valid_name(&target) {
                    return true;
                }
                let mut value = String::new();
                caps.expand(&self.replacement, &mut value);
                // An empty value deletes the label (the builder drops empty values).
                lb.set(target, value);
            }
            Action::HashMod => {
                let digest = Md5::digest(val.as_bytes());
                let mut b = [0u8; 8];
                b.copy_from_slice(&digest[8..16]);
                let h = u64::from_be_bytes(b) % self.modulus;
                lb.set(self.target.clone(), h.to_string());
            }
            Action::LabelMap => {
                let pairs: Vec<(String, String)> =
                    lb.pairs().iter().map(|l| (l.name.clone(), l.value.clone())).collect();
                for (n, v) in pairs {
                    if self.regex.is_match(&n) {
                        let new = self.regex.replace_all(&n, self.replacement.as_str()).to_string();
                        lb.set(new, v);
                    }
                }
            }
            Action::LabelDrop => {
                lb.retain(|l| !self.regex.is_match(&l.name));
            }
            Action::LabelKeep => {
                lb.retain(|l| self.regex.is_match(&l.name));
            }
            Action::Lowercase => {
                lb.set(self.target.clone(), val.to_lowercase());
            }
            Action::Uppercase => {
                lb.set(self.target.clone(), val.to_uppercase());
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(yaml: &str) -> Rule {
        serde_yaml::from_str::<RelabelConfig>(yaml).unwrap().compile().unwrap()
    }

    fn lb(pairs: &[(&str, &str)]) -> LabelsBuilder {
        let mut b = LabelsBuilder::new();
        for (n, v) in pairs {
            b.set(n.to_string(), v.to_string());
        }
        b
    }

    fn run(rules: &[Rule], pairs: &[(&str, &str)]) -> Option<String> {
        let mut b = lb(pairs);
        if process(rules, &mut b) { Some(b.build().to_string()) } else { None }
    }

    #[test]
    fn replace_and_expansion() {
        let r = rule("{source_labels: [a, missing, b], target_label: out, regex: '(.*)'}");
        assert_eq!(run(&[r], &[("a", "Foo"), ("b", "bar")]).unwrap(), r#"{a="Foo", b="bar", out="Foo;;bar"}"#);
        let r = rule("{source_labels: [a], regex: '(A)(B)(C)', target_label: x, replacement: '$3$2$1-$4-$0'}");
        assert_eq!(run(&[r], &[("a", "ABC")]).unwrap(), r#"{a="ABC", x="CBA--ABC"}"#);
        let r = rule("{source_labels: [a], regex: '(.*)', target_label: x, replacement: '$1x'}");
        assert_eq!(run(&[r], &[("a", "A")]).unwrap(), r#"{a="A"}"#, "$1x names group 1x: empty, no label");
        let r = rule("{source_labels: [a], target_label: x, replacement: '$$1 and $'}");
        assert_eq!(run(&[r], &[("a", "A")]).unwrap(), r#"{a="A", x="$1 and $"}"#);
        let r = rule("{source_labels: [a], regex: '(?P<first>F.*);?', target_label: x, replacement: '${first}-z'}");
        assert_eq!(run(&[r], &[("a", "Foo")]).unwrap(), r#"{a="Foo", x="Foo-z"}"#);
        // Empty replacement deletes the target label.
        let r = rule("{source_labels: [a], target_label: a, replacement: ''}");
        assert_eq!(run(&[r], &[("a", "A"), ("b", "B")]).unwrap(), r#"{b="B"}"#);
        // No match: unchanged.
        let r = rule("{source_labels: [a], regex: 'x', target_label: y}");
        assert_eq!(run(&[r], &[("a", "A")]).unwrap(), r#"{a="A"}"#);
    }

    #[test]
    fn keep_drop_equal() {
        let keep = rule("{source_labels: [a], regex: 'f.*', action: KEEP}");
        assert!(run(std::slice::from_ref(&keep), &[("a", "foo")]).is_some());
        assert!(run(std::slice::from_ref(&keep), &[("a", "xfoo")]).is_none(), "anchored");
        let drop = rule("{source_labels: [a], regex: 'f.*', action: drop}");
        assert!(run(&[drop], &[("a", "foo")]).is_none());
        let ke = rule("{source_labels: [a], target_label: b, action: keepequal}");
        assert!(run(std::slice::from_ref(&ke), &[("a", "1"), ("b", "1")]).is_some());
        assert!(run(&[ke], &[("a", "1"), ("b", "2")]).is_none());
        let de = rule("{source_labels: [a], target_label: b, action: dropequal}");
        assert!(run(&[de], &[("a", "1"), ("b", "1")]).is_none());
    }

    #[test]
    fn hashmod_matches_prometheus() {
        let r = rule("{source_labels: [a], target_label: h, modulus: 1000, action: hashmod}");
        assert_eq!(run(&[r], &[("a", "Foo")]).unwrap(), r#"{a="Foo", h="229"}"#);
        let r = rule("{source_labels: [a], target_label: h, modulus: 7, action: hashmod}");
        assert_eq!(run(&[r], &[("a", "h1:1")]).unwrap(), r#"{a="h1:1", h="0"}"#);
    }

    #[test]
    fn label_actions_and_case() {
        let r = rule("{regex: '__meta_x_(.+)', action: labelmap, replacement: 'meta_$1'}");
        assert_eq!(run(&[r], &[("__meta_x_zone", "z1")]).unwrap(), r#"{__meta_x_zone="z1", meta_zone="z1"}"#);
        let r = rule("{regex: 'tmp_.*', action: labeldrop}");
        assert_eq!(run(&[r], &[("tmp_a", "1"), ("b", "2")]).unwrap(), r#"{b="2"}"#);
        let r = rule("{regex: 'b|c', action: labelkeep}");
        assert_eq!(run(&[r], &[("a", "1"), ("b", "2")]).unwrap(), r#"{b="2"}"#);
        let r = rule("{source_labels: [a], target_label: l, action: lowercase}");
        assert_eq!(run(&[r], &[("a", "FoO")]).unwrap(), r#"{a="FoO", l="foo"}"#);
        let r = rule("{source_labels: [a], target_label: u, action: uppercase}");
        assert_eq!(run(&[r], &[("a", "FoO")]).unwrap(), r#"{a="FoO", u="FOO"}"#);
    }

    #[test]
    fn validation() {
        let bad = [
            ("{action: foo}", "unknown relabel action"),
            ("{action: replace}", "requires 'target_label'"),
            ("{action: hashmod, target_label: x}", "non-zero modulus"),
            ("{action: labeldrop, regex: x, source_labels: [a]}", "requires only 'regex'"),
            ("{action: keepequal, target_label: x, regex: y}", "requires only 'source_labels'"),
            ("{action: lowercase, target_label: x, replacement: y}", "can not be set"),
            ("{regex: '(', target_label: x}", "error parsing regexp"),
        ];
        for (y, want) in bad {
            let e = serde_yaml::from_str::<RelabelConfig>(y).unwrap().compile().unwrap_err();
            assert!(e.contains(want), "{y}: {e}");
        }
    }
}
