//! [`Storage`]: the tenants' stores, one [`Db`] per tenant in `<dir>/<tenant>/`.

use crate::db::{Db, Options};
use crate::error::Error;
use seer_model::TenantId;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// All tenants' metrics stores under one directory. A tenant's store is created on its
/// first write; reads of an unknown tenant see no data.
pub struct Storage {
    dir: PathBuf,
    opts: Options,
    tenants: RwLock<HashMap<TenantId, Arc<Db>>>,
}

impl Storage {
    /// Opens every tenant store found under `dir` (replaying their WALs).
    pub fn open(dir: &Path, opts: Options) -> Result<Storage, Error> {
        fs::create_dir_all(dir).map_err(Error::io("create dir", dir))?;
        let mut tenants = HashMap::new();
        let mut names: Vec<String> = Vec::new();
        for entry in fs::read_dir(dir).map_err(Error::io("list", dir))? {
            let entry = entry.map_err(Error::io("list", dir))?;
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                names.push(entry.file_name().to_string_lossy().to_string());
            }
        }
        names.sort();
        for name in names {
            let Ok(id) = TenantId::new(&name) else { continue };
            let db = Db::open(&dir.join(&name), opts.clone())?;
            tenants.insert(id, Arc::new(db));
        }
        Ok(Storage { dir: dir.to_path_buf(), opts, tenants: RwLock::new(tenants) })
    }

    /// The store of `tenant`, created if missing.
    pub fn tenant(&self, tenant: &TenantId) -> Result<Arc<Db>, Error> {
        if let Some(db) = self.existing(tenant) {
            return Ok(db);
        }
        let mut map = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        if let Some(db) = map.get(tenant) {
            return Ok(db.clone());
        }
        let db = Arc::new(Db::open(&self.dir.join(tenant.as_str()), self.opts.clone())?);
        map.insert(tenant.clone(), db.clone());
        Ok(db)
    }

    /// The store of `tenant` if it exists.
    pub fn existing(&self, tenant: &TenantId) -> Option<Arc<Db>> {
        self.tenants.read().unwrap_or_else(|e| e.into_inner()).get(tenant).cloned()
    }

    /// All tenant stores, sorted by tenant id.
    pub fn tenants(&self) -> Vec<(TenantId, Arc<Db>)> {
        let mut v: Vec<(TenantId, Arc<Db>)> = self
            .tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Runs maintenance on every tenant; returns the errors by tenant.
    pub fn maintain(&self) -> Vec<(TenantId, Error)> {
        let mut errs = Vec::new();
        for (id, db) in self.tenants() {
            if let Err(e) = db.maintain() {
                errs.push((id, e));
            }
        }
        errs
    }

    /// fsyncs every tenant's WAL that is due under the interval policy.
    pub fn sync_if_due(&self) -> Vec<(TenantId, Error)> {
        let mut errs = Vec::new();
        for (id, db) in self.tenants() {
            if let Err(e) = db.sync_wal_if_due() {
                errs.push((id, e));
            }
        }
        errs
    }

    /// fsyncs every tenant's WAL now (used at shutdown).
    pub fn sync_all(&self) -> Vec<(TenantId, Error)> {
        let mut errs = Vec::new();
        for (id, db) in self.tenants() {
            if let Err(e) = db.sync_wal() {
                errs.push((id, e));
            }
        }
        errs
    }

    /// The options every tenant store is opened with.
    pub fn options(&self) -> &Options {
        &self.opts
    }
}
