//! Every tenant's trace store under one directory.

use crate::db::{Options, TraceDb};
use crate::error::Error;
use seer_model::TenantId;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// All tenants' trace stores under one directory. A tenant's store is created on its first
/// push; reads of an unknown tenant see no data.
pub struct TraceStorage {
    dir: PathBuf,
    opts: Options,
    tenants: RwLock<HashMap<TenantId, Arc<TraceDb>>>,
}

impl TraceStorage {
    /// Opens every tenant store found under `dir` (replaying their WALs).
    pub fn open(dir: &Path, opts: Options) -> Result<TraceStorage, Error> {
        fs::create_dir_all(dir).map_err(Error::io("create dir", dir))?;
        let mut tenants = HashMap::new();
        for entry in fs::read_dir(dir).map_err(Error::io("list", dir))? {
            let entry = entry.map_err(Error::io("list", dir))?;
            if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_string();
            let Ok(id) = TenantId::new(&name) else { continue };
            tenants.insert(id, Arc::new(TraceDb::open(&dir.join(&name), opts.clone())?));
        }
        Ok(TraceStorage { dir: dir.to_path_buf(), opts, tenants: RwLock::new(tenants) })
    }

    /// The tenant's store, if it has one.
    pub fn get(&self, tenant: &TenantId) -> Option<Arc<TraceDb>> {
        self.tenants.read().unwrap_or_else(|e| e.into_inner()).get(tenant).cloned()
    }

    /// The tenant's store, created on first use.
    pub fn get_or_create(&self, tenant: &TenantId) -> Result<Arc<TraceDb>, Error> {
        if let Some(db) = self.get(tenant) {
            return Ok(db);
        }
        let mut t = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        if let Some(db) = t.get(tenant) {
            return Ok(db.clone());
        }
        let db = Arc::new(TraceDb::open(&self.dir.join(tenant.as_str()), self.opts.clone())?);
        t.insert(tenant.clone(), db.clone());
        Ok(db)
    }

    /// Every tenant's store.
    pub fn all(&self) -> Vec<Arc<TraceDb>> {
        self.tenants.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// Periodic work for every tenant: WAL fsync when due, block cuts when due, retention.
    /// `keep_long` is the long-term filter per tenant (tail sampling at retention time).
    /// Returns the traces the long-term filter dropped.
    pub fn maintain(&self, keep_long: &dyn Fn(&TenantId, &[seer_model::trace::Span]) -> bool) -> Result<u64, Error> {
        let mut dropped = 0;
        for (t, db) in self.tenants() {
            db.sync_if_due()?;
            db.cut_if_due(false)?;
            let f = |s: &[seer_model::trace::Span]| keep_long(&t, s);
            dropped += db.apply_retention(Some(&f))?.1;
        }
        Ok(dropped)
    }

    /// Every tenant with its store.
    pub fn tenants(&self) -> Vec<(TenantId, Arc<TraceDb>)> {
        self.tenants.read().unwrap_or_else(|e| e.into_inner()).iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// fsyncs every tenant's WAL (clean shutdown; the heads are replayed on start).
    pub fn sync_all(&self) -> Result<(), Error> {
        for db in self.all() {
            db.sync()?;
        }
        Ok(())
    }

    /// Cuts every head to a block and syncs.
    pub fn close(&self) -> Result<(), Error> {
        for db in self.all() {
            db.close()?;
        }
        Ok(())
    }
}
