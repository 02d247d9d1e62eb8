//! The `seer` binary: command line, configuration, and the composition of storage, scrape
//! manager and servers, in start-up order; then signals (SIGHUP reloads, SIGTERM/SIGINT
//! stop) and shutdown in reverse order.

mod config;
mod log;

use anyhow::{Context, Result, bail};
use seer_api::{ApiLimits, AppState, OtlpMetricsGrpc, ReloadRequest};
use seer_model::{MetricMetadata, SeriesSamples, TenantId};
use seer_tsdb::Storage;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const USAGE: &str = "\
Seer: metrics, logs and traces in one binary.

Usage:
  seer serve [--config FILE] [--data-dir DIR] [--http-listen ADDR] [--grpc-listen ADDR]
  seer check-config FILE
  seer version

Defaults: --data-dir ./data, --http-listen 127.0.0.1:9600, --grpc-listen 127.0.0.1:4317.
";

struct Flags {
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    http_listen: Option<String>,
    grpc_listen: Option<String>,
}

fn parse_flags(args: &[String]) -> Result<Flags> {
    let mut f = Flags { config: None, data_dir: None, http_listen: None, grpc_listen: None };
    let mut i = 0;
    while i < args.len() {
        let (key, inline) = match args[i].split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (args[i].clone(), None),
        };
        let mut value = || -> Result<String> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            i += 1;
            args.get(i).cloned().with_context(|| format!("{key} needs a value"))
        };
        match key.as_str() {
            "--config" | "--config.file" => f.config = Some(PathBuf::from(value()?)),
            "--data-dir" => f.data_dir = Some(PathBuf::from(value()?)),
            "--http-listen" => f.http_listen = Some(value()?),
            "--grpc-listen" => f.grpc_listen = Some(value()?),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown flag {other:?}\n\n{USAGE}"),
        }
        i += 1;
    }
    Ok(f)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => parse_flags(&args[1..]).and_then(serve),
        Some("check-config") => match args.get(1) {
            Some(p) => check_config(PathBuf::from(p)),
            None => Err(anyhow::anyhow!("check-config needs a file\n\n{USAGE}")),
        },
        Some("version" | "--version") => {
            println!("seer {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!("unknown command {other:?}\n\n{USAGE}")),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn check_config(path: PathBuf) -> Result<()> {
    let l = config::load(&path)?;
    for w in &l.warnings {
        println!("warning: {w}");
    }
    println!("{}: SUCCESS: {} scrape jobs", path.display(), l.jobs.len());
    Ok(())
}

/// Hands scraped samples to the default tenant's store.
struct ScrapeAppender {
    storage: Arc<Storage>,
    tenant: TenantId,
}

impl seer_agent::Appender for ScrapeAppender {
    fn append(&self, series: Vec<SeriesSamples>, metadata: Vec<MetricMetadata>) -> Result<(), String> {
        let db = self.storage.tenant(&self.tenant).map_err(|e| e.to_string())?;
        db.append(&series, &metadata).map(|_| ()).map_err(|e| e.to_string())
    }
}

/// Appends the trace pipeline's series (span metrics, service graph, sampling counters) to
/// each tenant's metrics store.
fn append_trace_metrics(storage: &Storage, pipeline: &seer_api::TracePipeline) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    for (tenant, series) in pipeline.collect(now) {
        if series.is_empty() {
            continue;
        }
        let res = storage.tenant(&tenant).map_err(|e| e.to_string()).and_then(|db| {
            let mut meta = seer_traceproc::spanmetrics::SpanMetrics::metadata();
            meta.extend(seer_traceproc::servicegraph::ServiceGraph::metadata());
            meta.extend(seer_traceproc::sampling::SamplingStats::metadata());
            db.append(&series, &meta).map(|_| ()).map_err(|e| e.to_string())
        });
        if let Err(e) = res {
            log::error("storing span metrics failed", &[("tenant", &tenant), ("err", &e)]);
        }
    }
}

fn serve(flags: Flags) -> Result<()> {
    let loaded = match &flags.config {
        Some(p) => config::load(p)?,
        None => config::parse("", std::path::Path::new("."))?,
    };
    for w in &loaded.warnings {
        log::warn(w, &[]);
    }
    let cfg = loaded.config.clone();
    let data_dir = flags.data_dir.clone().or(cfg.server.data_dir.clone()).unwrap_or_else(|| PathBuf::from("data"));
    let http_addr: SocketAddr = flags
        .http_listen
        .clone()
        .or(cfg.server.http_listen.clone())
        .unwrap_or_else(|| "127.0.0.1:9600".into())
        .parse()
        .context("--http-listen")?;
    let grpc_addr: SocketAddr = flags
        .grpc_listen
        .clone()
        .or(cfg.server.grpc_listen.clone())
        .unwrap_or_else(|| "127.0.0.1:4317".into())
        .parse()
        .context("--grpc-listen")?;
    let tsdb_opts = cfg.tsdb_options()?;
    let tsdb_wal = tsdb_opts.wal.clone();
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let lock_path = data_dir.join("lock");
    let lock = std::fs::File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        bail!("{} is in use by another Seer process (lock file {})", data_dir.display(), lock_path.display());
    }
    let default_tenant = TenantId::new(&cfg.tenancy.default_tenant)?;

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let (reload_tx, mut reload_rx) = mpsc::channel::<ReloadRequest>(4);
        let limits = ApiLimits {
            max_request_bytes: cfg.limits.max_request_size.0 as usize,
            max_decompressed_bytes: cfg.limits.max_decompressed_request_size.0 as usize,
            query: cfg.query.limits(),
            logs: cfg.logs.limits(),
            log_ingestion_rate: cfg.logs.ingestion_rate_mb * 1048576.0,
            log_ingestion_burst: cfg.logs.ingestion_burst_size_mb * 1048576.0,
            spans: cfg.traces.span_limits(),
            trace_ingestion_rate: cfg.traces.ingestion_rate_mb * 1048576.0,
            trace_ingestion_burst: cfg.traces.ingestion_burst_size_mb * 1048576.0,
        };
        let pipeline = Arc::new(
            seer_api::TracePipeline::new(cfg.traces.processing()).map_err(|e| anyhow::anyhow!("config: {e}"))?,
        );
        let mut app = AppState::new(limits, data_dir.clone(), default_tenant.clone(), Some(reload_tx));
        app.trace_pipeline = pipeline.clone();
        let state = Arc::new(app);
        state.runtime.lock().unwrap_or_else(|e| e.into_inner()).retention = cfg.storage.tsdb.retention_time.to_string();

        // 1. Servers first, so /-/healthy answers during WAL replay.
        let http_listener =
            tokio::net::TcpListener::bind(http_addr).await.with_context(|| format!("listening on {http_addr}"))?;
        let grpc_listener =
            tokio::net::TcpListener::bind(grpc_addr).await.with_context(|| format!("listening on {grpc_addr}"))?;
        log::info("listening", &[("http", &http_listener.local_addr()?), ("grpc", &grpc_listener.local_addr()?)]);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut srx = stop_rx.clone();
        let http = tokio::spawn(
            axum::serve(http_listener, seer_api::router(state.clone()))
                .with_graceful_shutdown(async move {
                    let _ = srx.wait_for(|v| *v).await;
                })
                .into_future(),
        );
        let mut srx = stop_rx.clone();
        let grpc = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(OtlpMetricsGrpc::new(state.clone()))
                .add_service(seer_api::OtlpLogsGrpc::new(state.clone()))
                .add_service(seer_api::OtlpTracesGrpc::new(state.clone()))
                .serve_with_incoming_shutdown(tokio_stream_listener(grpc_listener), async move {
                    let _ = srx.wait_for(|v| *v).await;
                }),
        );

        // 2. Storage: replay every tenant's WAL.
        let started = Instant::now();
        let metrics_dir = data_dir.join("metrics");
        let storage = Arc::new(
            tokio::task::spawn_blocking(move || Storage::open(&metrics_dir, tsdb_opts))
                .await?
                .context("opening the metrics store")?,
        );
        for (t, db) in storage.tenants() {
            let r = db.replay_report();
            log::info(
                "tenant replayed",
                &[
                    ("tenant", &t),
                    ("samples", &r.samples),
                    ("series", &r.series),
                    ("duration", &format!("{:?}", r.duration)),
                ],
            );
            if let Some(c) = &r.corruption {
                log::warn("WAL damage repaired", &[("tenant", &t), ("detail", c)]);
            }
        }
        let logs_dir = data_dir.join("logs");
        let log_opts = cfg.logs.store_options(tsdb_wal.clone());
        let logs = Arc::new(
            tokio::task::spawn_blocking(move || seer_logstore::LogStorage::open(&logs_dir, log_opts))
                .await?
                .context("opening the log store")?,
        );
        state.set_logs(logs.clone());
        let traces_dir = data_dir.join("traces");
        let trace_opts = cfg.traces.store_options(tsdb_wal.clone());
        let traces = Arc::new(
            tokio::task::spawn_blocking(move || seer_tracestore::TraceStorage::open(&traces_dir, trace_opts))
                .await?
                .context("opening the trace store")?,
        );
        state.set_traces(traces.clone());
        log::info("storage ready", &[("duration", &format!("{:?}", started.elapsed()))]);
        state.set_storage(storage.clone());

        // 3. Background maintenance: WAL fsync, block cutting, compaction, retention.
        let running = Arc::new(AtomicBool::new(true));
        let bg = {
            let storage = storage.clone();
            let logs = logs.clone();
            let traces = traces.clone();
            let pipeline = pipeline.clone();
            let running = running.clone();
            std::thread::Builder::new().name("seer-maintenance".into()).spawn(move || {
                let mut last = Instant::now();
                let mut last_traces = Instant::now();
                let mut last_span_metrics = Instant::now();
                while running.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    for (t, e) in storage.sync_if_due() {
                        log::error("WAL fsync failed", &[("tenant", &t), ("err", &e)]);
                    }
                    if let Err(e) = logs.maintain() {
                        log::error("log store maintenance failed", &[("err", &e)]);
                    }
                    if last_traces.elapsed() >= Duration::from_secs(1) {
                        last_traces = Instant::now();
                        let keep = |t: &TenantId, spans: &[seer_model::trace::Span]| pipeline.keep_long(t, spans);
                        if let Err(e) = traces.maintain(&keep) {
                            log::error("trace store maintenance failed", &[("err", &e)]);
                        }
                    }
                    // Span metrics, service graph and sampling counters, every 15 s (Tempo's
                    // metrics-generator collection interval).
                    if last_span_metrics.elapsed() >= Duration::from_secs(15) {
                        last_span_metrics = Instant::now();
                        append_trace_metrics(&storage, &pipeline);
                    }
                    if last.elapsed() >= Duration::from_secs(30) {
                        last = Instant::now();
                        for (t, e) in storage.maintain() {
                            log::error("storage maintenance failed", &[("tenant", &t), ("err", &e)]);
                        }
                        // Hand memory freed since the last round (request buffers, blocks
                        // cut from the head) back to the OS: glibc keeps free pages inside
                        // its heaps otherwise. Measured in bench/RESULTS.md (queries).
                        // SAFETY: malloc_trim only releases unused pages of glibc's own heaps;
                        // it takes the allocator's locks and is safe to call from any thread.
                        unsafe {
                            libc::malloc_trim(0);
                        }
                    }
                }
            })?
        };

        // 4. Scraping.
        let manager = seer_agent::Manager::new(Arc::new(ScrapeAppender {
            storage: storage.clone(),
            tenant: default_tenant.clone(),
        }));
        manager.apply(loaded.jobs.clone()).await;
        state.set_scrape_manager(manager.clone());
        log::info("scrape manager started", &[("jobs", &loaded.jobs.len())]);

        // 5. Signals and reloads until asked to stop.
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let config_path = flags.config.clone();
        let reload = |answer: Option<ReloadRequest>| {
            let manager = manager.clone();
            let state = state.clone();
            let config_path = config_path.clone();
            let current = cfg.clone();
            async move {
                let result = match &config_path {
                    None => Ok(()),
                    Some(p) => match config::load(p) {
                        Ok(l) => {
                            if l.config.storage != current.storage
                                || l.config.limits != current.limits
                                || l.config.tenancy != current.tenancy
                                || l.config.query != current.query
                                || l.config.logs != current.logs
                            {
                                log::warn(
                                    "storage, limits, query, logs and tenancy changes take effect after a restart",
                                    &[],
                                );
                            }
                            manager.apply(l.jobs).await;
                            Ok(())
                        }
                        Err(e) => Err(format!("{e:#}")),
                    },
                };
                {
                    let mut rt = state.runtime.lock().unwrap_or_else(|e| e.into_inner());
                    rt.reload_success = result.is_ok();
                    if result.is_ok() {
                        rt.last_config_ms = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_millis() as i64)
                            .unwrap_or(0);
                    }
                }
                match &result {
                    Ok(()) => log::info("configuration reloaded", &[]),
                    Err(e) => log::error("configuration reload failed", &[("err", e)]),
                }
                if let Some(a) = answer {
                    let _ = a.send(result);
                }
            }
        };
        loop {
            tokio::select! {
                _ = hup.recv() => reload(None).await,
                Some(answer) = reload_rx.recv() => reload(Some(answer)).await,
                _ = term.recv() => break,
                _ = tokio::signal::ctrl_c() => break,
            }
        }

        // 6. Shutdown in reverse order.
        log::info("shutting down", &[]);
        manager.shutdown().await;
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), http).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), grpc).await;
        running.store(false, Ordering::Relaxed);
        let _ = bg.join();
        for (t, e) in storage.sync_all() {
            log::error("WAL fsync at shutdown failed", &[("tenant", &t), ("err", &e)]);
        }
        // Loki flushes its chunks on shutdown; Seer writes the log head as a block, so the
        // next start has no log WAL to replay.
        if let Err(e) = logs.close() {
            log::error("writing the log head at shutdown failed", &[("err", &e)]);
            if let Err(e) = logs.sync_all() {
                log::error("log WAL fsync at shutdown failed", &[("err", &e)]);
            }
        }
        append_trace_metrics(&storage, &pipeline);
        if let Err(e) = traces.close() {
            log::error("writing the trace head at shutdown failed", &[("err", &e)]);
            if let Err(e) = traces.sync_all() {
                log::error("trace WAL fsync at shutdown failed", &[("err", &e)]);
            }
        }
        drop(lock);
        log::info("stopped", &[]);
        Ok::<(), anyhow::Error>(())
    })
}

/// Adapts a tokio listener to the stream of connections tonic's server takes.
fn tokio_stream_listener(
    l: tokio::net::TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    tokio_stream::wrappers::TcpListenerStream::new(l)
}
