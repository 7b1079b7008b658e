//! Opening a lake for queries: a local directory or `s3://bucket/prefix`.
//!
//! Every table is registered with its *declared* schema from
//! [`ecs_lake::schema`] (never inferred) plus the Hive partition column `dt`,
//! so DataFusion prunes days from `WHERE dt ...` and time filters. S3
//! credentials come from the standard AWS chain through aws-config (profiles,
//! SSO, env, instance and task roles), bridged into object_store the way
//! datafusion-cli does it.
//!
//! The same object store that reads the tables writes what the read side
//! produces (the weekly report's files), through [`Lake::store`]: one AWS
//! configuration and one S3 client per process.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use bytes::Bytes;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::prelude::{SessionConfig, SessionContext};
use ecs_lake::lake::StoreErrorKind;
use ecs_lake::schema::{DERIVED, PARTITION_COLUMN, TABLES, TableDef};
use ecs_lake::{LakeStore, StoreError};
use ecs_lake_aws::LakeLocation;
use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{CredentialProvider, ObjectStore, ObjectStoreExt, PutOptions, PutPayload};
use url::Url;

use crate::error::{Error, LakeErrorKind, Result};
use crate::listing::LakeTable;

/// Where the lake is and how to reach it: what a user configures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LakeConfig {
    /// A directory, or `s3://bucket/prefix`.
    pub location: String,
    /// AWS profile for S3 lakes (default: the standard credential chain).
    pub profile: Option<String>,
    /// AWS region for S3 lakes (default: auto-detected).
    pub region: Option<String>,
    /// S3 endpoint override, for S3-compatible stores and tests.
    pub endpoint_url: Option<String>,
}

impl LakeConfig {
    /// A lake at `location` reached with the standard AWS chain.
    pub fn at(location: impl Into<String>) -> LakeConfig {
        LakeConfig {
            location: location.into(),
            ..LakeConfig::default()
        }
    }

    /// The parsed location.
    pub fn parsed(&self) -> Result<LakeLocation> {
        LakeLocation::parse(&self.location)
            .map_err(|e| Error::lake(&self.location, LakeErrorKind::BadLocation, e.0))
    }

    /// The AWS SDK configuration from the standard chain, with this
    /// configuration's profile, region and endpoint.
    pub async fn sdk_config(&self) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &self.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        loader.load().await
    }
}

/// The table called `name`, by its SQL name (`quarantine`) or stored name (`_quarantine`).
pub fn table_named(name: &str) -> Result<&'static TableDef> {
    TABLES
        .iter()
        .copied()
        .find(|t| t.sql_name() == name || t.name == name)
        .ok_or_else(|| Error::NoSuchTable(name.to_owned()))
}

/// An opened lake: a DataFusion session with every table and view registered.
pub struct Lake {
    pub ctx: SessionContext,
    pub location: String,
    objects: Arc<dyn ObjectStore>,
    root: ObjectPath,
}

impl Lake {
    /// Opens the lake; S3 credentials, region and endpoint from the standard
    /// AWS chain with the configuration's overrides.
    pub async fn open(config: &LakeConfig) -> Result<Lake> {
        match config.parsed()? {
            LakeLocation::S3 { .. } => {
                let sdk = config.sdk_config().await;
                Self::open_with_sdk(config, &sdk).await
            }
            LakeLocation::Local(_) => {
                Self::open_with_sdk(config, &SdkConfig::builder().build()).await
            }
        }
    }

    /// Opens the lake with a given AWS SDK configuration for S3 (a Lambda's,
    /// loaded once in its `main`, or a test's in-process endpoint). The
    /// configuration's own profile and region are not consulted.
    pub async fn open_with_sdk(config: &LakeConfig, sdk: &SdkConfig) -> Result<Lake> {
        let location = config.location.as_str();
        // DataFusion's own settings can be tuned with DATAFUSION_* variables
        // (e.g. DATAFUSION_EXECUTION_TARGET_PARTITIONS).
        let mut session = SessionConfig::from_env()
            .map_err(|e| Error::lake(location, LakeErrorKind::BadSettings, e.to_string()))?
            .with_information_schema(true);
        // PostgreSQL rather than the generic dialect: the generic one accepts a
        // trailing comma before `CLUSTER BY`, so `SELECT task_id, cluster FROM ...`
        // (a column every table has) fails to parse.
        session.options_mut().sql_parser.dialect = datafusion::config::Dialect::PostgreSQL;
        // On S3 a partition waits on one request at a time: more partitions
        // than cores, unless the user chose.
        if matches!(config.parsed()?, LakeLocation::S3 { .. })
            && std::env::var_os("DATAFUSION_EXECUTION_TARGET_PARTITIONS").is_none()
        {
            session.options_mut().execution.target_partitions = crate::listing::S3_READ_CONCURRENCY;
        }
        let ctx = SessionContext::new_with_config(session);
        let (store_url, objects, root): (ObjectStoreUrl, Arc<dyn ObjectStore>, ObjectPath) =
            match config.parsed()? {
                LakeLocation::Local(dir) => {
                    let abs = std::fs::canonicalize(&dir).map_err(|e| {
                        Error::lake(location, LakeErrorKind::NotFound, e.to_string())
                    })?;
                    let root = ObjectPath::from_filesystem_path(&abs).map_err(|e| {
                        Error::lake(location, LakeErrorKind::BadLocation, e.to_string())
                    })?;
                    // The runtime reads file:// through its own LocalFileSystem,
                    // which names files exactly as this one lists them.
                    (
                        ObjectStoreUrl::local_filesystem(),
                        Arc::new(LocalFileSystem::new()),
                        root,
                    )
                }
                LakeLocation::S3 { bucket, prefix } => {
                    let store =
                        s3_object_store(location, config.endpoint_url.as_deref(), sdk, &bucket)?;
                    let bad_url = |e: url::ParseError| {
                        Error::lake(location, LakeErrorKind::BadLocation, e.to_string())
                    };
                    let bucket_url = Url::parse(&format!("s3://{bucket}")).map_err(bad_url)?;
                    ctx.register_object_store(&bucket_url, Arc::clone(&store));
                    let store_url = ObjectStoreUrl::parse(bucket_url.as_str()).map_err(|e| {
                        Error::lake(location, LakeErrorKind::BadLocation, e.to_string())
                    })?;
                    (store_url, store, ObjectPath::from(prefix.as_str()))
                }
            };
        for table in TABLES.iter().chain(DERIVED) {
            let provider = LakeTable::new(table, store_url.clone(), Arc::clone(&objects), &root);
            ctx.register_table(table.sql_name(), Arc::new(provider))
                .map_err(|e| {
                    Error::lake(
                        location,
                        LakeErrorKind::Registration,
                        format!("table {}: {e}", table.name),
                    )
                })?;
        }
        crate::views::register(&ctx).await.map_err(|e| {
            Error::lake(location, LakeErrorKind::Registration, format!("views: {e}"))
        })?;
        Ok(Lake {
            ctx,
            location: location.to_owned(),
            objects,
            root,
        })
    }

    /// From now on, every plan [`crate::collect`] runs on this lake is noted
    /// with its answer (plans built after this call).
    pub fn log_queries(&self) -> Arc<crate::dialect::QueryLog> {
        let log = Arc::new(crate::dialect::QueryLog::default());
        let state = self.ctx.state_ref();
        let mut state = state.write();
        state.config_mut().set_extension(Arc::clone(&log));
        log
    }

    /// From now on, every plan [`crate::collect`] runs on this lake is
    /// answered by Athena (plans built after this call); the same `Arc`
    /// tells what was scanned and stops a running query.
    pub fn use_athena(&self, athena: Arc<crate::athena::Athena>) {
        let state = self.ctx.state_ref();
        let mut state = state.write();
        state.config_mut().set_extension(athena);
    }

    /// The lake as a [`LakeStore`], through the object store that reads it.
    pub fn store(&self) -> LakeObjects {
        LakeObjects {
            objects: Arc::clone(&self.objects),
            root: self.root.clone(),
            location: self.location.clone(),
        }
    }
}

/// Writes objects under the lake's root through object_store.
#[derive(Clone, Debug)]
pub struct LakeObjects {
    objects: Arc<dyn ObjectStore>,
    root: ObjectPath,
    location: String,
}

impl LakeStore for LakeObjects {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        ecs_lake::lake::validate_key(key)?;
        let path = self.path(key);
        // A content type for S3 (browsers and Athena's console read it); a
        // local file system has no attributes and refuses them.
        let mut attributes = object_store::Attributes::new();
        if self.location.starts_with("s3://") {
            attributes.insert(
                object_store::Attribute::ContentType,
                ecs_lake_aws::content_type(key).into(),
            );
        }
        let options = PutOptions {
            attributes,
            ..PutOptions::default()
        };
        self.objects
            .put_opts(&path, PutPayload::from(body), options)
            .await
            .map(|_| ())
            .map_err(|e| {
                StoreError::new(
                    store_error_kind(&e),
                    format!("{}/{key}: {e}", self.location),
                )
                .with_key(key)
            })
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}

impl LakeObjects {
    fn path(&self, key: &str) -> ObjectPath {
        key.split('/')
            .fold(self.root.clone(), |p, part| p.clone().join(part))
    }

    /// Whether `key` is in a listing of its folder (a listing needs only
    /// `s3:ListBucket` on the prefix, where a GET of a missing key is 403
    /// without `s3:ListBucket` on the bucket).
    pub async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let path = self.path(key);
        let parent =
            ObjectPath::from_iter(path.parts().take(path.parts().count().saturating_sub(1)));
        let listing = self
            .objects
            .list_with_delimiter(Some(&parent))
            .await
            .map_err(|e| {
                StoreError::new(
                    store_error_kind(&e),
                    format!("{}/{key}: {e}", self.location),
                )
                .with_key(key)
            })?;
        Ok(listing.objects.iter().any(|o| o.location == path))
    }

    /// The object at `key` (relative to the lake's root).
    pub async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        ecs_lake::lake::validate_key(key)?;
        let path = self.path(key);
        let read = async { self.objects.get(&path).await?.bytes().await };
        read.await.map_err(|e| {
            StoreError::new(
                store_error_kind(&e),
                format!("{}/{key}: {e}", self.location),
            )
            .with_key(key)
        })
    }
}

/// What kind of failure an object_store error is (its retries are spent).
fn store_error_kind(e: &object_store::Error) -> StoreErrorKind {
    match e {
        object_store::Error::NotFound { .. } => StoreErrorKind::NotFound,
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => StoreErrorKind::Denied,
        _ => StoreErrorKind::Other,
    }
}

/// The declared schema with strings read as `Utf8View` (the Parquet files
/// hold plain strings): DataFusion compares, hashes and groups views of short
/// strings (ids, names, statuses) without copying them.
pub fn read_schema(table: &TableDef) -> Arc<Schema> {
    let fields: Vec<Field> = (table.schema)()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 => f.as_ref().clone().with_data_type(DataType::Utf8View),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The table's schema as the query side sees it: the read schema plus `dt`.
pub fn query_schema(table: &TableDef) -> Arc<Schema> {
    let mut fields: Vec<Field> = read_schema(table)
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(PARTITION_COLUMN, DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

fn s3_object_store(
    location: &str,
    endpoint_override: Option<&str>,
    sdk: &SdkConfig,
    bucket: &str,
) -> Result<Arc<dyn ObjectStore>> {
    let credentials = sdk.credentials_provider().ok_or_else(|| {
        Error::lake(
            location,
            LakeErrorKind::NoCredentials,
            "no AWS credentials found",
        )
    })?;
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(
            sdk.region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".into()),
        )
        .with_credentials(Arc::new(AwsConfigCredentials(credentials)));
    if let Some(endpoint) = endpoint_override.or(sdk.endpoint_url()) {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
    }
    let store = builder
        .build()
        .map_err(|e| Error::lake(location, LakeErrorKind::BadS3Config, e.to_string()))?;
    Ok(Arc::new(store))
}

/// aws-config's credential chain as an object_store credential provider.
#[derive(Debug)]
struct AwsConfigCredentials(SharedCredentialsProvider);

#[async_trait]
impl CredentialProvider for AwsConfigCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let c = self
            .0
            .provide_credentials()
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })?;
        Ok(Arc::new(AwsCredential {
            key_id: c.access_key_id().to_owned(),
            secret_key: c.secret_access_key().to_owned(),
            token: c.session_token().map(str::to_owned),
        }))
    }
}
