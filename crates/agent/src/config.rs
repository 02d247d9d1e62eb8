//! The scrape part of a Prometheus configuration file (`global`, `scrape_configs`), read
//! with Prometheus' own YAML shape and validation rules.

use crate::duration::{ByteSize, PromDuration};
use crate::relabel::RelabelConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `global:`.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// Default scrape interval (1m).
    #[serde(default)]
    pub scrape_interval: Option<PromDuration>,
    /// Default scrape timeout (10s, at most the interval).
    #[serde(default)]
    pub scrape_timeout: Option<PromDuration>,
    /// Rule evaluation interval (1m).
    #[serde(default)]
    pub evaluation_interval: Option<PromDuration>,
    /// Labels added to data leaving Seer (alerts, forwarding); not to stored series.
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    /// Accepted for compatibility; unused.
    #[serde(default)]
    pub query_log_file: Option<String>,
    /// Default per-job sample limit.
    #[serde(default)]
    pub sample_limit: Option<u64>,
    /// Default per-job label limit.
    #[serde(default)]
    pub label_limit: Option<u64>,
    /// Default per-job label name length limit.
    #[serde(default)]
    pub label_name_length_limit: Option<u64>,
    /// Default per-job label value length limit.
    #[serde(default)]
    pub label_value_length_limit: Option<u64>,
    /// Default per-job target limit.
    #[serde(default)]
    pub target_limit: Option<u64>,
    /// Default per-job body size limit.
    #[serde(default)]
    pub body_size_limit: Option<ByteSize>,
}

/// `basic_auth:`.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// File holding the user name.
    #[serde(default)]
    pub username_file: Option<PathBuf>,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
    /// File holding the password (re-read on every scrape, trimmed).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// `authorization:`.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// Scheme, default `Bearer`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Credentials.
    #[serde(default)]
    pub credentials: Option<String>,
    /// File holding the credentials (re-read on every scrape, trimmed).
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
}

/// `tls_config:` (accepted so that Prometheus files load; see [`ScrapeConfig::validate`]).
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// CA file.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Client key.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// SNI name.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Skip verification.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Minimum TLS version.
    #[serde(default)]
    pub min_version: Option<String>,
    /// Maximum TLS version.
    #[serde(default)]
    pub max_version: Option<String>,
}

/// One `static_configs` entry.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels for all of them.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// One `file_sd_configs` entry.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// File patterns (`*` allowed in the last path element).
    #[serde(default)]
    pub files: Vec<String>,
    /// Re-read period (5m). Files are also checked for changes every few seconds.
    #[serde(default)]
    pub refresh_interval: Option<PromDuration>,
}

/// One `scrape_configs` entry.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// Job name, unique.
    pub job_name: String,
    /// Interval (global default).
    #[serde(default)]
    pub scrape_interval: Option<PromDuration>,
    /// Timeout (min of global timeout and interval).
    #[serde(default)]
    pub scrape_timeout: Option<PromDuration>,
    /// Path, default `/metrics`.
    #[serde(default)]
    pub metrics_path: Option<String>,
    /// `http` (default) or `https`.
    #[serde(default)]
    pub scheme: Option<String>,
    /// URL query parameters.
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
    /// Keep exposed labels that clash with target labels.
    #[serde(default)]
    pub honor_labels: bool,
    /// Use timestamps from the exposition (default true).
    #[serde(default)]
    pub honor_timestamps: Option<bool>,
    /// Track staleness of series with explicit timestamps too.
    #[serde(default)]
    pub track_timestamps_staleness: bool,
    /// Most samples per scrape, 0 = none.
    #[serde(default)]
    pub sample_limit: Option<u64>,
    /// Most labels per series, 0 = none.
    #[serde(default)]
    pub label_limit: Option<u64>,
    /// Longest label name, 0 = none.
    #[serde(default)]
    pub label_name_length_limit: Option<u64>,
    /// Longest label value, 0 = none.
    #[serde(default)]
    pub label_value_length_limit: Option<u64>,
    /// Most targets in the job, 0 = none.
    #[serde(default)]
    pub target_limit: Option<u64>,
    /// Largest uncompressed body, 0 = none.
    #[serde(default)]
    pub body_size_limit: Option<ByteSize>,
    /// Basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header.
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// Deprecated form of `authorization`.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// Deprecated form of `authorization.credentials_file`.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// TLS settings.
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
    /// Proxy (not supported).
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// Follow redirects (default true).
    #[serde(default)]
    pub follow_redirects: Option<bool>,
    /// HTTP/2 (ignored: targets are scraped over HTTP/1.1).
    #[serde(default)]
    pub enable_http2: Option<bool>,
    /// Ask for gzip (default true).
    #[serde(default)]
    pub enable_compression: Option<bool>,
    /// Parser when a target sends no or an unknown Content-Type (default
    /// `PrometheusText0.0.4`).
    #[serde(default)]
    pub fallback_scrape_protocol: Option<String>,
    /// Static targets.
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    /// File-based discovery.
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Target relabeling.
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Sample relabeling.
    #[serde(default)]
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

/// A scrape job with every default resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The job as written, with relative paths resolved.
    pub config: ScrapeConfig,
    /// Interval.
    pub interval: PromDuration,
    /// Timeout.
    pub timeout: PromDuration,
    /// Path.
    pub metrics_path: String,
    /// Scheme.
    pub scheme: String,
    /// Honor timestamps.
    pub honor_timestamps: bool,
    /// Limits, 0 = none.
    pub sample_limit: u64,
    /// Limit.
    pub label_limit: u64,
    /// Limit.
    pub label_name_length_limit: u64,
    /// Limit.
    pub label_value_length_limit: u64,
    /// Limit.
    pub target_limit: u64,
    /// Limit, bytes.
    pub body_size_limit: u64,
    /// Ask for gzip.
    pub enable_compression: bool,
}

/// A configuration problem, worded like Prometheus'.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl GlobalConfig {
    /// Resolved global interval and timeout.
    pub fn resolved(&self) -> Result<(PromDuration, PromDuration), ConfigError> {
        let interval = match self.scrape_interval {
            Some(d) if d.0 > Duration::ZERO => d,
            _ => PromDuration(Duration::from_secs(60)),
        };
        let timeout = match self.scrape_timeout {
            Some(t) if t.0 > Duration::ZERO => {
                if t > interval {
                    return Err(ConfigError("global scrape timeout greater than scrape interval".into()));
                }
                t
            }
            _ => PromDuration(Duration::from_secs(10).min(interval.0)),
        };
        Ok((interval, timeout))
    }
}

/// Resolves defaults and validates all jobs. `base_dir` is the config file's directory,
/// against which relative file paths are resolved.
pub fn resolve_jobs(global: &GlobalConfig, configs: &[ScrapeConfig], base_dir: &Path) -> Result<Vec<Job>, ConfigError> {
    let (g_interval, g_timeout) = global.resolved()?;
    let mut names = std::collections::HashSet::new();
    let mut jobs = Vec::new();
    for c in configs {
        if c.job_name.is_empty() {
            return Err(ConfigError("job_name is empty".into()));
        }
        if !names.insert(c.job_name.clone()) {
            return Err(ConfigError(format!("found multiple scrape configs with job name {:?}", c.job_name)));
        }
        let interval = match c.scrape_interval {
            Some(d) if d.0 > Duration::ZERO => d,
            _ => g_interval,
        };
        let timeout = match c.scrape_timeout {
            Some(t) if t.0 > Duration::ZERO => {
                if t > interval {
                    return Err(ConfigError(format!(
                        "scrape timeout greater than scrape interval for scrape config with job name {:?}",
                        c.job_name
                    )));
                }
                t
            }
            _ => g_timeout.min(interval),
        };
        let mut config = c.clone();
        resolve_paths(&mut config, base_dir);
        validate(&config)?;
        let pick = |v: Option<u64>, g: Option<u64>| v.filter(|&x| x > 0).or(g).unwrap_or(0);
        jobs.push(Job {
            interval,
            timeout,
            metrics_path: c.metrics_path.clone().unwrap_or_else(|| "/metrics".into()),
            scheme: c.scheme.clone().unwrap_or_else(|| "http".into()),
            honor_timestamps: c.honor_timestamps.unwrap_or(true),
            sample_limit: pick(c.sample_limit, global.sample_limit),
            label_limit: pick(c.label_limit, global.label_limit),
            label_name_length_limit: pick(c.label_name_length_limit, global.label_name_length_limit),
            label_value_length_limit: pick(c.label_value_length_limit, global.label_value_length_limit),
            target_limit: pick(c.target_limit, global.target_limit),
            body_size_limit: c.body_size_limit.filter(|b| b.0 > 0).or(global.body_size_limit).map(|b| b.0).unwrap_or(0),
            enable_compression: c.enable_compression.unwrap_or(true),
            config,
        });
    }
    Ok(jobs)
}

fn join(base: &Path, p: &mut Option<PathBuf>) {
    if let Some(x) = p
        && x.is_relative()
    {
        *x = base.join(&*x);
    }
}

fn resolve_paths(c: &mut ScrapeConfig, base: &Path) {
    if let Some(b) = &mut c.basic_auth {
        join(base, &mut b.password_file);
        join(base, &mut b.username_file);
    }
    if let Some(a) = &mut c.authorization {
        join(base, &mut a.credentials_file);
    }
    join(base, &mut c.bearer_token_file);
    for sd in &mut c.file_sd_configs {
        for f in &mut sd.files {
            if Path::new(f).is_relative() {
                *f = base.join(&*f).to_string_lossy().to_string();
            }
        }
    }
}

fn validate(c: &ScrapeConfig) -> Result<(), ConfigError> {
    let e = |s: &str| Err(ConfigError(s.to_string()));
    let scheme = c.scheme.as_deref().unwrap_or("http");
    if scheme != "http" {
        return Err(ConfigError(format!(
            "job {:?}: scheme {scheme:?} is not supported: this version of Seer scrapes plain HTTP targets only",
            c.job_name
        )));
    }
    if c.proxy_url.is_some() {
        return Err(ConfigError(format!("job {:?}: proxy_url is not supported by this version of Seer", c.job_name)));
    }
    if let Some(b) = &c.basic_auth
        && b.password.is_some()
        && b.password_file.is_some()
    {
        return e("at most one of basic_auth password & password_file must be configured");
    }
    if c.bearer_token.is_some() && c.bearer_token_file.is_some() {
        return e("at most one of bearer_token & bearer_token_file must be configured");
    }
    let bearer = c.bearer_token.is_some() || c.bearer_token_file.is_some();
    if c.basic_auth.is_some() && bearer {
        return e("at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured");
    }
    if let Some(a) = &c.authorization {
        if bearer {
            return e("authorization is not compatible with bearer_token & bearer_token_file");
        }
        if a.credentials.is_some() && a.credentials_file.is_some() {
            return e("at most one of authorization credentials & credentials_file must be configured");
        }
        if a.kind.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("basic")) {
            return e("authorization type cannot be set to \"basic\", use \"basic_auth\" instead");
        }
        if c.basic_auth.is_some() {
            return e("at most one of basic_auth, oauth2 & authorization must be configured");
        }
    }
    if let Some(p) = &c.fallback_scrape_protocol
        && !matches!(
            p.as_str(),
            "PrometheusText0.0.4" | "PrometheusText1.0.0" | "OpenMetricsText0.0.1" | "OpenMetricsText1.0.0"
        )
    {
        return Err(ConfigError(format!("unknown fallback_scrape_protocol {p:?}")));
    }
    for sd in &c.file_sd_configs {
        if sd.files.is_empty() {
            return e("file service discovery config must contain at least one path name");
        }
        for f in &sd.files {
            if !crate::discovery::valid_file_pattern(f) {
                return Err(ConfigError(format!("path name {f:?} is not valid for file discovery")));
            }
        }
    }
    for (i, sc) in c.static_configs.iter().enumerate() {
        for (j, t) in sc.targets.iter().enumerate() {
            if t.is_empty() {
                return Err(ConfigError(format!("instance {j} in group {i}: no address")));
            }
            if c.relabel_configs.is_empty() && t.contains('/') {
                return Err(ConfigError(format!("{t:?} is not a valid hostname")));
            }
        }
        for n in sc.labels.keys() {
            if n.is_empty() {
                return Err(ConfigError(format!("{n:?} is not a valid label name")));
            }
        }
    }
    for r in c.relabel_configs.iter().chain(&c.metric_relabel_configs) {
        r.validate().map_err(ConfigError)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs(yaml: &str) -> Result<Vec<Job>, ConfigError> {
        #[derive(Deserialize)]
        struct F {
            #[serde(default)]
            global: GlobalConfig,
            scrape_configs: Vec<ScrapeConfig>,
        }
        let f: F = serde_yaml::from_str(yaml).map_err(|e| ConfigError(e.to_string()))?;
        resolve_jobs(&f.global, &f.scrape_configs, Path::new("/etc/seer"))
    }

    #[test]
    fn defaults_and_inheritance() {
        let j = jobs("global: {scrape_interval: 5s}\nscrape_configs:\n- job_name: a\n  static_configs: [{targets: ['h:1']}]\n- job_name: b\n  scrape_interval: 1m\n  file_sd_configs: [{files: ['sd/*.json']}]\n").unwrap();
        assert_eq!(j[0].interval.to_string(), "5s");
        assert_eq!(j[0].timeout.to_string(), "5s");
        assert_eq!(j[0].metrics_path, "/metrics");
        assert!(j[0].honor_timestamps);
        assert_eq!(j[1].timeout.to_string(), "5s");
        assert_eq!(j[1].config.file_sd_configs[0].files[0], "/etc/seer/sd/*.json");
    }

    #[test]
    fn validation_messages() {
        let cases = [
            ("scrape_configs: [{job_name: a}, {job_name: a}]", "found multiple scrape configs with job name \"a\""),
            (
                "scrape_configs: [{job_name: a, scrape_interval: 5s, scrape_timeout: 10s}]",
                "scrape timeout greater than scrape interval",
            ),
            (
                "global: {scrape_interval: 5s, scrape_timeout: 10s}\nscrape_configs: []",
                "global scrape timeout greater than scrape interval",
            ),
            ("scrape_configs: [{job_name: a, bogus: 1}]", "unknown field `bogus`"),
            ("scrape_configs: [{job_name: a, scrape_interval: 5x}]", "not a valid duration"),
            (
                "scrape_configs: [{job_name: a, static_configs: [{targets: ['http://h:1/m']}]}]",
                "is not a valid hostname",
            ),
            ("scrape_configs: [{job_name: a, bearer_token: x, bearer_token_file: y}]", "at most one of bearer_token"),
            (
                "scrape_configs: [{job_name: a, file_sd_configs: [{files: ['/tmp/x.txt']}]}]",
                "not valid for file discovery",
            ),
            (
                "scrape_configs: [{job_name: a, relabel_configs: [{action: hashmod, target_label: x}]}]",
                "non-zero modulus",
            ),
            ("scrape_configs: [{job_name: a, scheme: https}]", "not supported"),
        ];
        for (y, want) in cases {
            let e = jobs(y).unwrap_err();
            assert!(e.0.contains(want), "{y}: {e}");
        }
    }
}
