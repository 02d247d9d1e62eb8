//! The scrape manager: keeps one scrape loop per target, refreshes discovery, and applies
//! configuration changes as a diff (unchanged targets keep their loops and state).

use crate::config::Job;
use crate::discovery::{FileDiscovery, static_groups};
use crate::http::{HttpClient, fetch};
use crate::relabel::compile_all;
use crate::scrape::{Fetched, Scraper};
use crate::target::{DroppedTarget, Target, build, fnv64a};
use seer_model::{MetricMetadata, SeriesSamples};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// Where scraped samples go.
pub trait Appender: Send + Sync + 'static {
    /// Stores one scrape's samples. Individual bad samples (out of order, duplicates) are
    /// the store's business; an `Err` means nothing could be stored.
    fn append(&self, series: Vec<SeriesSamples>, metadata: Vec<MetricMetadata>) -> Result<(), String>;
}

/// Health of a target as the targets API reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetStatus {
    /// `up`, `down` or `unknown` (not scraped yet).
    pub health: &'static str,
    /// Error of the last attempt, empty when it succeeded.
    pub last_error: String,
    /// Start of the last attempt.
    pub last_scrape: Option<SystemTime>,
    /// Seconds the last attempt took.
    pub last_scrape_duration: f64,
}

/// One active target with its status.
#[derive(Clone, Debug)]
pub struct ActiveTarget {
    /// The target.
    pub target: Target,
    /// Its status.
    pub status: TargetStatus,
}

/// What the targets API shows.
#[derive(Clone, Debug, Default)]
pub struct TargetsSnapshot {
    /// Active targets, by job then URL.
    pub active: Vec<ActiveTarget>,
    /// Targets dropped by relabeling.
    pub dropped: Vec<DroppedTarget>,
    /// Dropped target count per job (all jobs listed).
    pub dropped_counts: BTreeMap<String, usize>,
}

struct LoopHandle {
    target: Target,
    status: Arc<Mutex<TargetStatus>>,
    stop: watch::Sender<Option<bool>>,
}

struct JobState {
    job: Arc<Job>,
    files: Vec<FileDiscovery>,
    dropped: Vec<DroppedTarget>,
}

struct State {
    jobs: Vec<JobState>,
    loops: HashMap<u64, LoopHandle>,
}

/// Runs the scrape loops.
#[derive(Clone)]
pub struct Manager {
    state: Arc<tokio::sync::Mutex<State>>,
    appender: Arc<dyn Appender>,
    client: HttpClient,
    jitter_seed: u64,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Manager {
    /// A manager with no jobs; call [`Manager::apply`] with the configuration. Spawns the
    /// discovery refresher on the current tokio runtime.
    pub fn new(appender: Arc<dyn Appender>) -> Manager {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let m = Manager {
            state: Arc::new(tokio::sync::Mutex::new(State { jobs: Vec::new(), loops: HashMap::new() })),
            appender,
            client: HttpClient::new(),
            jitter_seed: fnv64a(host.trim().as_bytes()),
        };
        let weak = Arc::downgrade(&m.state);
        let m2 = m.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                if weak.upgrade().is_none() {
                    return;
                }
                m2.refresh(false).await;
            }
        });
        m
    }

    /// Replaces the job list. Targets whose identity and job settings are unchanged keep
    /// running; removed ones get staleness markers; new ones start.
    pub async fn apply(&self, jobs: Vec<Job>) {
        {
            let mut st = self.state.lock().await;
            st.jobs = jobs
                .into_iter()
                .map(|j| {
                    let files = j.config.file_sd_configs.iter().cloned().map(FileDiscovery::new).collect();
                    JobState { job: Arc::new(j), files, dropped: Vec::new() }
                })
                .collect();
        }
        self.refresh(true).await;
    }

    /// Re-reads discovery and reconciles the loops.
    async fn refresh(&self, force: bool) {
        let mut st = self.state.lock().await;
        let mut changed = force;
        for js in st.jobs.iter_mut() {
            for f in js.files.iter_mut() {
                changed |= f.refresh();
            }
        }
        if !changed {
            return;
        }
        let mut desired: HashMap<u64, (Target, Arc<Job>, Option<String>)> = HashMap::new();
        for js in st.jobs.iter_mut() {
            let mut groups = static_groups(&js.job.config);
            for f in &js.files {
                groups.extend(f.groups());
            }
            let rules = match compile_all(&js.job.config.relabel_configs) {
                Ok(r) => r,
                Err(_) => continue, // validated at load time
            };
            let (targets, dropped, _errors) = build(&js.job, &groups, &rules);
            js.dropped = dropped;
            let limit = js.job.target_limit;
            let forced = (limit > 0 && targets.len() as u64 > limit)
                .then(|| format!("target_limit exceeded (number of targets: {}, limit: {limit})", targets.len()));
            let job_key = fnv64a(format!("{:?}", js.job).as_bytes());
            for t in targets {
                let key = t.hash ^ job_key.rotate_left(17) ^ if forced.is_some() { 0x5555 } else { 0 };
                desired.insert(key, (t, js.job.clone(), forced.clone()));
            }
        }
        let existing: Vec<u64> = st.loops.keys().copied().collect();
        for key in existing {
            if !desired.contains_key(&key)
                && let Some(h) = st.loops.remove(&key)
            {
                let _ = h.stop.send(Some(true));
            }
        }
        for (key, (target, job, forced)) in desired {
            if st.loops.contains_key(&key) {
                continue;
            }
            let handle = self.start_loop(target, job, forced);
            st.loops.insert(key, handle);
        }
    }

    fn start_loop(&self, target: Target, job: Arc<Job>, forced: Option<String>) -> LoopHandle {
        let status = Arc::new(Mutex::new(TargetStatus {
            health: "unknown",
            last_error: String::new(),
            last_scrape: None,
            last_scrape_duration: 0.0,
        }));
        let (tx, mut rx) = watch::channel(None::<bool>);
        let metric_rules = compile_all(&job.config.metric_relabel_configs).unwrap_or_default();
        let mut scraper = Scraper::new(target.clone(), &job, metric_rules);
        let appender = self.appender.clone();
        let client = self.client.clone();
        let st = status.clone();
        let interval = target.interval.0.max(Duration::from_millis(1));
        let offset_ns = (target.hash ^ self.jitter_seed) % interval.as_nanos() as u64;
        let t2 = target.clone();
        tokio::spawn(async move {
            // Scrape at a stable phase within the interval, derived from the target.
            let now_ns = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0) as u64;
            let iv = interval.as_nanos() as u64;
            let wait = (offset_ns + iv - now_ns % iv) % iv;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_nanos(wait)) => {}
                _ = rx.changed() => {
                    return;
                }
            }
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut scraped_once = false;
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = rx.changed() => break,
                }
                let ts = now_ms();
                let started = std::time::Instant::now();
                let fetched = match &forced {
                    Some(e) => Fetched::Failed(e.clone()),
                    None => fetch(&client, &t2, &job).await,
                };
                let duration = started.elapsed().as_secs_f64();
                let result = scraper.process(fetched, ts, now_ms(), duration);
                let error = result.error.clone();
                let app = appender.clone();
                let stored = tokio::task::spawn_blocking(move || app.append(result.series, result.metadata))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
                scraped_once = true;
                let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
                s.last_scrape = Some(UNIX_EPOCH + Duration::from_millis(ts as u64));
                s.last_scrape_duration = duration;
                match (error, stored) {
                    (None, Ok(())) => {
                        s.health = "up";
                        s.last_error.clear();
                    }
                    (Some(e), _) | (None, Err(e)) => {
                        s.health = "down";
                        s.last_error = e;
                    }
                }
            }
            // Stopped: write staleness markers unless the whole process is shutting down.
            if *rx.borrow() == Some(true) && scraped_once {
                let series = scraper.stale_all(now_ms());
                let app = appender.clone();
                let _ = tokio::task::spawn_blocking(move || app.append(series, Vec::new())).await;
            }
        });
        LoopHandle { target, status, stop: tx }
    }

    /// The targets API view.
    pub async fn targets(&self) -> TargetsSnapshot {
        let st = self.state.lock().await;
        let mut active: Vec<ActiveTarget> = st
            .loops
            .values()
            .map(|h| ActiveTarget {
                target: h.target.clone(),
                status: h.status.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            })
            .collect();
        active.sort_by(|a, b| (&a.target.job, &a.target.url).cmp(&(&b.target.job, &b.target.url)));
        let mut snap = TargetsSnapshot { active, ..Default::default() };
        for js in &st.jobs {
            snap.dropped_counts.insert(js.job.config.job_name.clone(), js.dropped.len());
            snap.dropped.extend(js.dropped.iter().cloned());
        }
        snap
    }

    /// Stops every loop without writing staleness markers (process shutdown).
    pub async fn shutdown(&self) {
        let mut st = self.state.lock().await;
        for (_, h) in st.loops.drain() {
            let _ = h.stop.send(Some(false));
        }
        st.jobs.clear();
    }
}
