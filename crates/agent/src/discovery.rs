//! Service discovery: static configs and file-based discovery (`file_sd_configs`), both
//! producing target groups.

use crate::config::{FileSdConfig, ScrapeConfig};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A group of targets sharing labels.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels of every target in the group.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Where the group came from (`static:<n>` or `<path>:<n>`); not part of the file format.
    #[serde(skip)]
    pub source: String,
}

/// True for `dir/name.ext` patterns with at most one `*`, only in the file name, and a
/// `.json`/`.yml`/`.yaml` extension, as Prometheus requires.
pub fn valid_file_pattern(p: &str) -> bool {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$").expect("valid regex"))
        .is_match(p)
}

/// The static groups of a job.
pub fn static_groups(job: &ScrapeConfig) -> Vec<TargetGroup> {
    job.static_configs
        .iter()
        .enumerate()
        .map(|(i, s)| TargetGroup {
            targets: s.targets.clone(),
            labels: s.labels.clone(),
            source: format!("static:{i}"),
        })
        .collect()
}

/// Matches `name` against a pattern where `*` stands for any run of characters.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Expands a pattern to the files it names, sorted.
pub fn expand(pattern: &str) -> Vec<PathBuf> {
    let p = Path::new(pattern);
    let (dir, name) = match (p.parent(), p.file_name()) {
        (Some(d), Some(n)) => {
            (if d.as_os_str().is_empty() { Path::new(".") } else { d }, n.to_string_lossy().to_string())
        }
        _ => return Vec::new(),
    };
    if !name.contains('*') {
        return if p.is_file() { vec![p.to_path_buf()] } else { Vec::new() };
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
                .filter(|e| wildcard_match(&name, &e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Parses one file_sd file by its extension.
pub fn parse_file(path: &Path, data: &[u8]) -> Result<Vec<TargetGroup>, String> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let groups: Vec<Option<TargetGroup>> = if ext == "json" {
        serde_json::from_slice(data).map_err(|e| e.to_string())?
    } else {
        if data.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Vec::new());
        }
        serde_yaml::from_slice(data).map_err(|e| e.to_string())?
    };
    let mut out = Vec::with_capacity(groups.len());
    for (i, g) in groups.into_iter().enumerate() {
        let mut g = g.ok_or("nil target group item found")?;
        for n in g.labels.keys() {
            if n.is_empty() {
                return Err(format!("{n:?} is not a valid label name"));
            }
        }
        g.labels.insert("__meta_filepath".into(), path.to_string_lossy().to_string());
        g.source = format!("{}:{i}", path.display());
        out.push(g);
    }
    Ok(out)
}

/// Reads the files of one `file_sd_configs` entry, keeping the last good groups of a file
/// that became unreadable or invalid, as Prometheus does.
#[derive(Debug, Default)]
pub struct FileDiscovery {
    config: FileSdConfig,
    /// Per file: modification time and its groups.
    files: HashMap<PathBuf, (Option<SystemTime>, Vec<TargetGroup>)>,
    /// Errors of the last refresh, by file.
    pub errors: Vec<String>,
    last_full: Option<std::time::Instant>,
}

impl FileDiscovery {
    /// A discovery for `config` (patterns already resolved against the config directory).
    pub fn new(config: FileSdConfig) -> FileDiscovery {
        FileDiscovery { config, ..Default::default() }
    }

    /// Re-reads changed files (and all files once per refresh interval). Returns true when
    /// the groups changed.
    pub fn refresh(&mut self) -> bool {
        let full = self.last_full.is_none_or(|t| {
            t.elapsed() >= self.config.refresh_interval.map(|d| d.0).unwrap_or(std::time::Duration::from_secs(300))
        });
        if full {
            self.last_full = Some(std::time::Instant::now());
        }
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut changed = false;
        self.errors.clear();
        for pattern in &self.config.files {
            for path in expand(pattern) {
                seen.push(path.clone());
                let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
                if !full && self.files.get(&path).is_some_and(|(t, _)| *t == mtime && mtime.is_some()) {
                    continue;
                }
                match std::fs::read(&path).map_err(|e| e.to_string()).and_then(|d| parse_file(&path, &d)) {
                    Ok(groups) => {
                        let old = self.files.insert(path.clone(), (mtime, groups.clone()));
                        if old.map(|(_, g)| g) != Some(groups) {
                            changed = true;
                        }
                    }
                    Err(e) => self.errors.push(format!("error reading file {}: {e}", path.display())),
                }
            }
        }
        let before = self.files.len();
        self.files.retain(|p, _| seen.contains(p));
        changed || self.files.len() != before
    }

    /// Current groups, in file order.
    pub fn groups(&self) -> Vec<TargetGroup> {
        let mut paths: Vec<&PathBuf> = self.files.keys().collect();
        paths.sort();
        paths.into_iter().flat_map(|p| self.files[p].1.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(valid_file_pattern("/etc/sd/*.json"));
        assert!(valid_file_pattern("targets.YML"));
        assert!(!valid_file_pattern("/tmp/x.txt"));
        assert!(!valid_file_pattern("/a/*/b.json"));
        assert!(wildcard_match("*b*.json", "abc.json"));
        assert!(!wildcard_match("*b*.json", "ac.json"));
    }

    #[test]
    fn file_discovery_keeps_last_good_groups() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.json");
        std::fs::write(&a, r#"[{"targets":["h1:9100","h2:9100"],"labels":{"env":"prod"}}]"#).unwrap();
        std::fs::write(d.path().join("b.yml"), "- targets: ['h3:1']\n").unwrap();
        let cfg = FileSdConfig {
            files: vec![format!("{}/*.json", d.path().display()), format!("{}/*.yml", d.path().display())],
            refresh_interval: None,
        };
        let mut fd = FileDiscovery::new(cfg);
        assert!(fd.refresh());
        let g = fd.groups();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].labels["__meta_filepath"], a.to_string_lossy());
        assert_eq!(g[0].labels["env"], "prod");
        // A broken file keeps its previous targets and reports an error.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&a, "not json").unwrap();
        filetime_bump(&a);
        fd.refresh();
        assert_eq!(fd.groups().len(), 2);
        assert_eq!(fd.errors.len(), 1);
        // Unknown fields are refused.
        assert!(parse_file(Path::new("x.json"), br#"[{"targets":[],"extra":1}]"#).is_err());
        // A deleted file removes its targets.
        std::fs::remove_file(&a).unwrap();
        assert!(fd.refresh());
        assert_eq!(fd.groups().len(), 1);
    }

    fn filetime_bump(p: &Path) {
        let f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
        f.set_modified(SystemTime::now() + std::time::Duration::from_secs(1)).unwrap();
    }
}
