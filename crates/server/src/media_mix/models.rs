//! Fitted media-mix models, one JSON file each under `<data>/media_mix/`: the report that the
//! API shows and, beside it, the posterior response curves that plans and scenarios read.
//! Fits run one at a time in the background; a fit that a restart interrupted is marked failed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use silta_mmm::{FitReport, Granularity, ModelSpec, ResponseModel, SamplerSettings};

use crate::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Fitting,
    Ready,
    Failed,
}

/// A model as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub id: String,
    pub name: String,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub fit_seconds: Option<f64>,
    pub error: Option<String>,
    pub granularity: Granularity,
    pub kpi: String,
    pub periods: usize,
    pub channels: Vec<String>,
    pub model: ModelSpec,
    pub sampler: SamplerSettings,
    /// Present once the model is ready; left out of lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<FitReport>,
}

/// The store of models, and the one fit that may run at a time.
#[derive(Debug)]
pub struct Models {
    directory: PathBuf,
    running: Mutex<Option<String>>,
}

fn io_error(error: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("media-mix model store: {error}"))
}

/// Ids are made by the server; anything else in a path is refused before it reaches the disk.
fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|byte| byte.is_ascii_hexdigit())
}

impl Models {
    pub fn open(data: &Path) -> Models {
        Models {
            directory: data.join("media_mix"),
            running: Mutex::new(None),
        }
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.directory.join(format!("{id}.json"))
    }

    fn response_path(&self, id: &str) -> PathBuf {
        self.directory.join(format!("{id}.response.json"))
    }

    /// Claims the fitting slot for `id`; false while another fit runs.
    pub fn start(&self, id: &str) -> bool {
        let mut running = self.running.lock().expect("the lock is not poisoned");
        if running.is_some() {
            return false;
        }
        *running = Some(id.to_string());
        true
    }

    pub fn finish(&self) {
        *self.running.lock().expect("the lock is not poisoned") = None;
    }

    fn is_running(&self, id: &str) -> bool {
        self.running
            .lock()
            .expect("the lock is not poisoned")
            .as_deref()
            == Some(id)
    }

    pub fn new_id() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// Writes through a temporary file and a rename, so a crash leaves the old or the new file.
    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), ApiError> {
        std::fs::create_dir_all(&self.directory).map_err(io_error)?;
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, bytes).map_err(io_error)?;
        std::fs::File::open(&temporary)
            .and_then(|file| file.sync_all())
            .map_err(io_error)?;
        std::fs::rename(&temporary, path).map_err(io_error)
    }

    pub fn save(&self, record: &ModelRecord) -> Result<(), ApiError> {
        let bytes = serde_json::to_vec(record).map_err(io_error)?;
        self.write(&self.record_path(&record.id), &bytes)
    }

    pub fn save_response(&self, id: &str, response: &ResponseModel) -> Result<(), ApiError> {
        let bytes = serde_json::to_vec(response).map_err(io_error)?;
        self.write(&self.response_path(id), &bytes)
    }

    pub fn get(&self, id: &str) -> Result<Option<ModelRecord>, ApiError> {
        if !valid_id(id) {
            return Ok(None);
        }
        let bytes = match std::fs::read(self.record_path(id)) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_error(error)),
        };
        let mut record: ModelRecord = serde_json::from_slice(&bytes).map_err(io_error)?;
        if record.status == Status::Fitting && !self.is_running(id) {
            record.status = Status::Failed;
            record.error = Some("the fit was interrupted by a restart; fit again".into());
        }
        Ok(Some(record))
    }

    /// A ready model's response curves.
    pub fn response(&self, id: &str) -> Result<ResponseModel, ApiError> {
        let record = self
            .get(id)?
            .ok_or_else(|| ApiError::not_found(format!("no media-mix model `{id}`")))?;
        if record.status != Status::Ready {
            return Err(ApiError::conflict(format!(
                "model `{id}` is {}, not ready",
                serde_json::to_value(record.status)
                    .ok()
                    .and_then(|status| status.as_str().map(str::to_string))
                    .unwrap_or_default()
            )));
        }
        let bytes = std::fs::read(self.response_path(id)).map_err(io_error)?;
        serde_json::from_slice(&bytes).map_err(io_error)
    }

    /// Every model, newest first, without reports.
    pub fn list(&self) -> Result<Vec<ModelRecord>, ApiError> {
        let entries = match std::fs::read_dir(&self.directory) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io_error(error)),
        };
        let mut records = Vec::new();
        for entry in entries {
            let name = entry.map_err(io_error)?.file_name();
            let Some(id) = name.to_str().and_then(|name| name.strip_suffix(".json")) else {
                continue;
            };
            if let Some(mut record) = self.get(id)? {
                record.report = None;
                records.push(record);
            }
        }
        records.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(records)
    }

    /// Deletes a model; false when there was none. A model being fitted cannot be deleted.
    pub fn delete(&self, id: &str) -> Result<bool, ApiError> {
        if self.is_running(id) {
            return Err(ApiError::conflict("the model is being fitted"));
        }
        if self.get(id)?.is_none() {
            return Ok(false);
        }
        for path in [self.response_path(id), self.record_path(id)] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(io_error(error)),
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_server_made_ids_reach_the_disk() {
        assert!(valid_id(&Models::new_id()));
        for hostile in [
            "../state",
            "",
            "unknown",
            "0123456789abcdef0123456789abcdeg",
        ] {
            assert!(!valid_id(hostile), "{hostile}");
        }
    }
}
