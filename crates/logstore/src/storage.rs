//! Every tenant's log store under one directory.

use crate::db::{LogDb, Options};
use crate::error::Error;
use seer_model::TenantId;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// All tenants' log stores under one directory. A tenant's store is created on its first
/// push; reads of an unknown tenant see no data.
pub struct LogStorage {
    dir: PathBuf,
    opts: Options,
    tenants: RwLock<HashMap<TenantId, Arc<LogDb>>>,
}

impl LogStorage {
    /// Opens every tenant store found under `dir` (replaying their WALs).
    pub fn open(dir: &Path, opts: Options) -> Result<LogStorage, Error> {
        fs::create_dir_all(dir).map_err(Error::io("create dir", dir))?;
        let mut tenants = HashMap::new();
        for entry in fs::read_dir(dir).map_err(Error::io("list", dir))? {
            let entry = entry.map_err(Error::io("list", dir))?;
            if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_string();
            let Ok(id) = TenantId::new(&name) else { continue };
            tenants.insert(id, Arc::new(LogDb::open(&dir.join(&name), opts.clone())?));
        }
        Ok(LogStorage { dir: dir.to_path_buf(), opts, tenants: RwLock::new(tenants) })
    }

    /// The tenant's store, if it has one.
    pub fn get(&self, tenant: &TenantId) -> Option<Arc<LogDb>> {
        self.tenants.read().unwrap_or_else(|e| e.into_inner()).get(tenant).cloned()
    }

    /// The tenant's store, created on first use.
    pub fn get_or_create(&self, tenant: &TenantId) -> Result<Arc<LogDb>, Error> {
        if let Some(db) = self.get(tenant) {
            return Ok(db);
        }
        let mut t = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        if let Some(db) = t.get(tenant) {
            return Ok(db.clone());
        }
        let db = Arc::new(LogDb::open(&self.dir.join(tenant.as_str()), self.opts.clone())?);
        t.insert(tenant.clone(), db.clone());
        Ok(db)
    }

    /// Every tenant's store.
    pub fn all(&self) -> Vec<Arc<LogDb>> {
        self.tenants.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// Periodic work for every tenant: WAL fsync when due, block cuts when due, retention.
    pub fn maintain(&self) -> Result<(), Error> {
        for db in self.all() {
            db.sync_if_due()?;
            db.cut_if_due(false)?;
            db.apply_retention()?;
        }
        Ok(())
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
