//! Talking to object storage for the bucket backend: `s3://BUCKET/PREFIX` (also `gs://` and
//! `az://`), through the `object_store` crate: GET with the object's version, conditional
//! PUT, HEAD, LIST and DELETE, each relative to the cache's prefix.
//!
//! Objects cannot be appended to or locked, so every commit is a whole-object conditional put:
//! `If-Match` on the ETag that was read (or create-if-absent for a new series). A writer that
//! loses the race gets [`PutOutcome::Conflict`], re-reads, merges and tries again. Each put is
//! atomic, so a worker killed mid-commit leaves the previous object in place.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};

use super::Error;

/// The version of an object as read: what a conditional put must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    e_tag: Option<String>,
    version: Option<String>,
}

/// The result of a conditional put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Written; the object's new version.
    Written(ObjectVersion),
    /// Someone else wrote (or created) the object since it was read.
    Conflict,
}

/// An object-storage location holding a cache: a bucket and a prefix in it.
#[derive(Debug, Clone)]
pub struct ObjectClient {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    url: String,
}

/// The URL schemes of the object storage a cache can live in (`s3://BUCKET/PREFIX`, ...).
/// `location` parses cache locations with them; [`ObjectClient::open`] opens each one.
pub const BUCKET_SCHEMES: [&str; 6] = ["s3", "s3a", "gs", "az", "abfs", "abfss"];

fn storage_error(url: &str, e: object_store::Error) -> Error {
    Error::Storage {
        location: url.to_owned(),
        message: e.to_string(),
    }
}

impl ObjectClient {
    /// Opens `url` with credentials, region and endpoint from the standard environment
    /// variables of each cloud (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, ...), as `object_store` reads them.
    pub fn open(url: &str) -> Result<Self, Error> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let parsed = reqwest::Url::parse(url).map_err(|e| Error::Storage {
            location: url.to_owned(),
            message: e.to_string(),
        })?;
        let store: Arc<dyn ObjectStore> = match parsed.scheme() {
            "s3" | "s3a" => Arc::new(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|e| storage_error(url, e))?,
            ),
            "gs" => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|e| storage_error(url, e))?,
            ),
            "az" | "abfs" | "abfss" => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|e| storage_error(url, e))?,
            ),
            other => {
                return Err(Error::Storage {
                    location: url.to_owned(),
                    message: format!("unsupported scheme `{other}`; use s3://, gs:// or az://"),
                });
            }
        };
        let prefix = ObjectPath::from(parsed.path().trim_matches('/'));
        Ok(Self {
            store,
            prefix,
            url: url.trim_end_matches('/').to_owned(),
        })
    }

    fn object(&self, relative: &str) -> ObjectPath {
        relative
            .split('/')
            .fold(self.prefix.clone(), |path, part| path.join(part))
    }

    /// The URL of an object, for messages and `inspect`.
    pub fn display(&self, relative: &str) -> String {
        format!("{}/{relative}", self.url)
    }

    /// The object's bytes and version; `None` when absent.
    pub async fn get(&self, relative: &str) -> Result<Option<(Bytes, ObjectVersion)>, Error> {
        match self.store.get(&self.object(relative)).await {
            Ok(result) => {
                let version = ObjectVersion {
                    e_tag: result.meta.e_tag.clone(),
                    version: result.meta.version.clone(),
                };
                let bytes = result
                    .bytes()
                    .await
                    .map_err(|e| storage_error(&self.display(relative), e))?;
                Ok(Some((bytes, version)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(storage_error(&self.display(relative), e)),
        }
    }

    /// Writes the object if it is still at `expected` (`None`: only if it does not exist).
    pub async fn put(
        &self,
        relative: &str,
        bytes: Bytes,
        expected: Option<&ObjectVersion>,
    ) -> Result<PutOutcome, Error> {
        let mode = match expected {
            None => PutMode::Create,
            Some(v) => PutMode::Update(UpdateVersion {
                e_tag: v.e_tag.clone(),
                version: v.version.clone(),
            }),
        };
        let options = PutOptions {
            mode,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&self.object(relative), PutPayload::from(bytes), options)
            .await
        {
            Ok(put) => Ok(PutOutcome::Written(ObjectVersion {
                e_tag: put.e_tag,
                version: put.version,
            })),
            Err(
                object_store::Error::Precondition { .. }
                | object_store::Error::AlreadyExists { .. },
            ) => Ok(PutOutcome::Conflict),
            Err(e) => Err(storage_error(&self.display(relative), e)),
        }
    }

    /// Writes the object whatever is there (for small files merged by their readers).
    pub async fn put_overwrite(&self, relative: &str, bytes: Bytes) -> Result<(), Error> {
        self.store
            .put(&self.object(relative), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| storage_error(&self.display(relative), e))
    }

    /// The object's size, from its metadata (a HEAD); `None` when absent.
    pub async fn size(&self, relative: &str) -> Result<Option<u64>, Error> {
        match self.store.head(&self.object(relative)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(storage_error(&self.display(relative), e)),
        }
    }

    pub async fn delete(&self, relative: &str) -> Result<(), Error> {
        match self.store.delete(&self.object(relative)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage_error(&self.display(relative), e)),
        }
    }

    /// Every object under the prefix: its path relative to the prefix and its size.
    pub async fn list(&self) -> Result<Vec<(String, u64)>, Error> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let metas: Vec<_> = self
            .store
            .list(prefix)
            .try_collect()
            .await
            .map_err(|e| storage_error(&self.url, e))?;
        let skip = if self.prefix.as_ref().is_empty() {
            0
        } else {
            self.prefix.as_ref().len() + 1
        };
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let full = m.location.as_ref();
                full.get(skip..).map(|rel| (rel.to_owned(), m.size))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs against the S3 server named by `BARKEEP_TEST_S3_ENDPOINT` (CI starts moto_server).
    fn test_bucket() -> Option<ObjectClient> {
        let endpoint = std::env::var("BARKEEP_TEST_S3_ENDPOINT").ok()?;
        // CI also exports AWS_ENDPOINT_URL (= the endpoint), AWS_ALLOW_HTTP and test keys.
        assert!(!endpoint.is_empty());
        let bucket =
            std::env::var("BARKEEP_TEST_S3_BUCKET").unwrap_or_else(|_| "barkeep-test".to_owned());
        Some(
            ObjectClient::open(&format!(
                "s3://{bucket}/unit-{}-{}",
                std::process::id(),
                fastrand::u64(..)
            ))
            .unwrap(),
        )
    }

    #[tokio::test]
    async fn conditional_puts_detect_conflicts() {
        let Some(bucket) = test_bucket() else { return };
        let key = "stocks/sip/1Day/AAPL.parquet";
        let put = |bytes: &'static [u8], expected: Option<ObjectVersion>| {
            let bucket = bucket.clone();
            async move {
                bucket
                    .put(key, Bytes::from_static(bytes), expected.as_ref())
                    .await
                    .unwrap()
            }
        };
        assert!(bucket.get(key).await.unwrap().is_none());
        assert!(matches!(put(b"one", None).await, PutOutcome::Written(_)));
        assert_eq!(
            put(b"two", None).await,
            PutOutcome::Conflict,
            "create-if-absent"
        );
        let (bytes, v1) = bucket.get(key).await.unwrap().unwrap();
        assert_eq!(&bytes[..], b"one");
        assert!(matches!(
            put(b"three", Some(v1.clone())).await,
            PutOutcome::Written(_)
        ));
        assert_eq!(
            put(b"four", Some(v1)).await,
            PutOutcome::Conflict,
            "if-match on a stale etag"
        );
        assert_eq!(bucket.list().await.unwrap(), vec![(key.to_owned(), 5)]);
        bucket.delete(key).await.unwrap();
        assert!(bucket.list().await.unwrap().is_empty());
    }
}
