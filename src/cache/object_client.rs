//! Talking to object storage for the bucket backend: `s3://BUCKET/PREFIX` (also `gs://` and
//! `az://`), through the `object_store` crate: GET with the object's version, conditional
//! PUT, HEAD, LIST and DELETE, each relative to the cache's prefix.
//!
//! Objects cannot be appended to or locked, so every commit is a whole-object conditional put:
//! `If-Match` on the ETag that was read (or create-if-absent for a new series). A writer that
//! loses the race gets [`PutOutcome::Conflict`], re-reads, merges and tries again. Each put is
//! atomic, so a worker killed mid-commit leaves the previous object in place.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    UpdateVersion,
};

use super::Error;

/// The version of an object as read: what a conditional put must match (its ETag, and its
/// version id where the store has them).
pub use super::backend::DocumentVersion as ObjectVersion;

/// The last bytes of an object, read with one ranged GET.
#[derive(Debug, Clone)]
pub struct ObjectTail {
    /// The bytes `[size - bytes.len(), size)`: the whole object when it is that small.
    pub bytes: Bytes,
    /// The object's size.
    pub size: u64,
    pub version: ObjectVersion,
}

impl ObjectTail {
    /// Where [`ObjectTail::bytes`] start in the object.
    pub fn offset(&self) -> u64 {
        self.size - self.bytes.len() as u64
    }

    /// Whether the tail is the whole object.
    pub fn is_whole(&self) -> bool {
        self.bytes.len() as u64 == self.size
    }
}

/// An object found by a listing: its path relative to the prefix, size and ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub relative: String,
    pub size: u64,
    pub e_tag: Option<String>,
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

    /// The last `len` bytes of the object (all of it when smaller), with its size and version,
    /// in one ranged GET; `None` when absent.
    pub async fn get_tail(&self, relative: &str, len: u64) -> Result<Option<ObjectTail>, Error> {
        let options = GetOptions {
            range: Some(GetRange::Suffix(len)),
            ..GetOptions::default()
        };
        match self.store.get_opts(&self.object(relative), options).await {
            Ok(result) => {
                let version = ObjectVersion {
                    e_tag: result.meta.e_tag.clone(),
                    version: result.meta.version.clone(),
                };
                let size = result.meta.size;
                let bytes = result
                    .bytes()
                    .await
                    .map_err(|e| storage_error(&self.display(relative), e))?;
                if bytes.len() as u64 > size {
                    return Err(Error::Storage {
                        location: self.display(relative),
                        message: format!(
                            "a read of the last {len} bytes returned more than the object's {size}"
                        ),
                    });
                }
                Ok(Some(ObjectTail {
                    bytes,
                    size,
                    version,
                }))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => {
                // An empty object has no last bytes to range over: read it whole (and let the
                // caller find it is no parquet file).
                if self.size(relative).await? == Some(0) {
                    return Ok(self
                        .get(relative)
                        .await?
                        .map(|(bytes, version)| ObjectTail {
                            size: bytes.len() as u64,
                            bytes,
                            version,
                        }));
                }
                Err(storage_error(&self.display(relative), e))
            }
        }
    }

    /// The byte ranges `ranges` of the object, one ranged GET each, all in flight at once,
    /// each on condition that the object is still at `version` (a rewrite in between would
    /// move every offset the caller planned from).
    pub async fn get_ranges(
        &self,
        relative: &str,
        ranges: &[Range<u64>],
        version: &ObjectVersion,
    ) -> Result<Vec<Bytes>, Error> {
        let path = self.object(relative);
        let gets = ranges.iter().map(|range| {
            let options = GetOptions {
                range: Some(GetRange::Bounded(range.clone())),
                if_match: version.e_tag.clone(),
                version: version.version.clone(),
                ..GetOptions::default()
            };
            let path = path.clone();
            async move {
                let result = self.store.get_opts(&path, options).await?;
                result.bytes().await
            }
        });
        futures::future::try_join_all(gets)
            .await
            .map_err(|e| match e {
                object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. } => {
                    Error::Storage {
                        location: self.display(relative),
                        message: "the object was rewritten while it was read; run again".to_owned(),
                    }
                }
                e => storage_error(&self.display(relative), e),
            })
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

    /// Writes the object whatever is there (for small files merged by their readers); its
    /// new version.
    pub async fn put_overwrite(
        &self,
        relative: &str,
        bytes: Bytes,
    ) -> Result<ObjectVersion, Error> {
        self.store
            .put(&self.object(relative), PutPayload::from(bytes))
            .await
            .map(|put| ObjectVersion {
                e_tag: put.e_tag,
                version: put.version,
            })
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
        Ok(self
            .list_under("")
            .await?
            .into_iter()
            .map(|l| (l.relative, l.size))
            .collect())
    }

    /// Every object under `relative_dir` (`""`: the whole prefix), at any depth, with its
    /// path relative to the cache's prefix, its size and ETag. One LIST request per 1,000
    /// objects.
    pub async fn list_under(&self, relative_dir: &str) -> Result<Vec<Listed>, Error> {
        let dir = if relative_dir.is_empty() {
            self.prefix.clone()
        } else {
            self.object(relative_dir)
        };
        let prefix = (!dir.as_ref().is_empty()).then_some(&dir);
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
                full.get(skip..).map(|rel| Listed {
                    relative: rel.to_owned(),
                    size: m.size,
                    e_tag: m.e_tag,
                })
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
