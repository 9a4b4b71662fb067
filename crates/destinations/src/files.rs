//! Files destinations: a batch of messages as one CSV or Parquet file, written to a directory
//! or S3-compatible object storage. Each top-level field of the messages is a column (in the
//! order the fields first appear), after the batch's `idempotency_key`; a column whose values
//! are all numbers or all booleans keeps that type, anything else is text, and nested objects
//! and arrays are their JSON.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::Value;

use crate::config::{FileFormat, FileLocation, SecretRef};
use crate::deliver::Message;

/// Where and how a files destination writes.
pub struct FileSink {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    format: FileFormat,
}

/// The S3 settings of a files target.
pub struct S3Settings<'a> {
    pub endpoint: Option<&'a str>,
    pub region: Option<&'a str>,
    pub access_key_id: Option<&'a SecretRef>,
    pub secret_access_key: Option<&'a SecretRef>,
}

impl FileSink {
    pub fn new(url: &str, format: FileFormat, s3: &S3Settings) -> Result<FileSink, String> {
        let location = FileLocation::parse(url).map_err(|error| error.0)?;
        let (store, prefix): (Arc<dyn ObjectStore>, String) = match location {
            FileLocation::Directory(directory) => {
                std::fs::create_dir_all(&directory).map_err(|error| {
                    format!(
                        "directory {} cannot be created: {error}",
                        directory.display()
                    )
                })?;
                let store = LocalFileSystem::new_with_prefix(&directory)
                    .map_err(|error| format!("directory {}: {error}", directory.display()))?;
                (Arc::new(store), String::new())
            }
            FileLocation::S3 { bucket, prefix } => {
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(s3.region.unwrap_or("us-east-1"));
                if let Some(endpoint) = s3.endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                if let (Some(key), Some(secret)) = (s3.access_key_id, s3.secret_access_key) {
                    builder = builder
                        .with_access_key_id(key.read()?)
                        .with_secret_access_key(secret.read()?);
                }
                let store = builder.build().map_err(|error| format!("s3: {error}"))?;
                (Arc::new(store), prefix)
            }
        };
        Ok(FileSink {
            store,
            prefix,
            format,
        })
    }

    /// Writes `messages` as one file named by `key` and returns its path in the store.
    pub async fn write(
        &self,
        key: &str,
        messages: &[Message],
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        let bytes = encode(self.format, messages)?;
        let name = format!(
            "dt={}/{key}.{}",
            now.format("%Y-%m-%d"),
            self.format.extension()
        );
        let path = if self.prefix.is_empty() {
            name
        } else {
            format!("{}/{name}", self.prefix)
        };
        self.store
            .put(&StorePath::from(path.as_str()), bytes.into())
            .await
            .map_err(|error| format!("writing {path}: {error}"))?;
        Ok(path)
    }
}

/// One column's values, typed as narrowly as every value allows.
fn column(values: Vec<Option<&Value>>) -> (DataType, ArrayRef) {
    let present = || values.iter().flatten();
    if present().all(|value| value.is_number()) && present().next().is_some() {
        let array: Float64Array = values
            .iter()
            .map(|value| value.and_then(Value::as_f64))
            .collect();
        return (DataType::Float64, Arc::new(array));
    }
    if present().all(|value| value.is_boolean()) && present().next().is_some() {
        let array: BooleanArray = values
            .iter()
            .map(|value| value.and_then(Value::as_bool))
            .collect();
        return (DataType::Boolean, Arc::new(array));
    }
    let array: StringArray = values
        .iter()
        .map(|value| match value {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(other) => Some(other.to_string()),
        })
        .collect();
    (DataType::Utf8, Arc::new(array))
}

/// The messages as one table: `idempotency_key`, then each top-level field.
pub fn table(messages: &[Message]) -> Result<RecordBatch, String> {
    let mut names: Vec<&str> = Vec::new();
    for (_, message) in messages {
        if let Value::Object(fields) = message {
            for name in fields.keys() {
                if name != "idempotency_key" && !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
    }
    let keys: StringArray = messages.iter().map(|(key, _)| Some(key.as_str())).collect();
    let mut fields = vec![Field::new("idempotency_key", DataType::Utf8, false)];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(keys)];
    for name in names {
        let (data_type, array) = column(
            messages
                .iter()
                .map(|(_, message)| message.get(name))
                .collect(),
        );
        fields.push(Field::new(name, data_type, true));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|error| format!("building the file: {error}"))
}

fn encode(format: FileFormat, messages: &[Message]) -> Result<Vec<u8>, String> {
    let batch = table(messages)?;
    let failed = |error: &dyn std::fmt::Display| format!("writing {format:?}: {error}");
    let mut bytes = Vec::new();
    match format {
        FileFormat::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut bytes);
            writer.write(&batch).map_err(|error| failed(&error))?;
        }
        FileFormat::Parquet => {
            let mut writer = parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), None)
                .map_err(|error| failed(&error))?;
            writer.write(&batch).map_err(|error| failed(&error))?;
            writer.close().map_err(|error| failed(&error))?;
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;
    use serde_json::json;

    fn messages() -> Vec<Message> {
        vec![
            (
                "web:1".to_string(),
                json!({"event": "Order Completed", "total": 30.5, "paid": true,
                       "properties": {"sku": "A-1"}}),
            ),
            (
                "web:2".to_string(),
                json!({"event": "Signed Up", "total": 2, "plan": "pro, yearly"}),
            ),
        ]
    }

    #[test]
    fn columns_keep_numbers_and_booleans_and_write_objects_as_json() {
        let batch = table(&messages()).expect("table");
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "idempotency_key",
                "event",
                "paid",
                "properties",
                "total",
                "plan"
            ]
        );
        assert_eq!(schema.field(2).data_type(), &DataType::Boolean);
        assert_eq!(schema.field(4).data_type(), &DataType::Float64);
        let properties = batch
            .column(3)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("text");
        assert_eq!(properties.value(0), r#"{"sku":"A-1"}"#);
        assert!(properties.is_null(1));
    }

    #[tokio::test]
    async fn a_batch_becomes_one_csv_or_parquet_file_named_by_its_key() {
        let directory = tempfile::tempdir().expect("tempdir");
        let url = format!("file://{}/exports", directory.path().display());
        let now = DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let none = S3Settings {
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
        };
        let csv = FileSink::new(&url, FileFormat::Csv, &none).expect("sink");
        let path = csv
            .write("batch-1", &messages(), now)
            .await
            .expect("writes");
        assert_eq!(path, "dt=2026-03-01/batch-1.csv");
        let text =
            std::fs::read_to_string(directory.path().join("exports").join(&path)).expect("file");
        let mut reader = ::csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|row| row.expect("row").iter().map(String::from).collect())
            .collect();
        assert_eq!(
            rows,
            [
                [
                    "web:1",
                    "Order Completed",
                    "true",
                    r#"{"sku":"A-1"}"#,
                    "30.5",
                    ""
                ],
                ["web:2", "Signed Up", "", "", "2.0", "pro, yearly"],
            ]
        );

        let parquet = FileSink::new(&url, FileFormat::Parquet, &none).expect("sink");
        let path = parquet
            .write("batch-1", &messages(), now)
            .await
            .expect("writes");
        let file = std::fs::File::open(directory.path().join("exports").join(&path)).expect("file");
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
        let batches: Vec<RecordBatch> = reader.map(|batch| batch.expect("batch")).collect();
        assert_eq!(batches[0], table(&messages()).expect("table"));
    }
}
