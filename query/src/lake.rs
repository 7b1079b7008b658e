//! Opening a lake for queries: a local directory or `s3://bucket/prefix`.
//!
//! Every table is registered with its *declared* schema from
//! [`ecs_lake::schema`] (never inferred) plus the Hive partition column `dt`,
//! so DataFusion prunes days from `WHERE dt ...` and time filters. S3
//! credentials come from the standard AWS chain through aws-config (profiles,
//! SSO, env, instance and task roles), bridged into object_store the way
//! datafusion-cli does it.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use ecs_lake::schema::{PARTITION_COLUMN, TABLES, TableDef};
use ecs_lake_aws::LakeLocation;
use object_store::CredentialProvider;
use object_store::aws::{AmazonS3Builder, AwsCredential};
use url::Url;

use crate::cli::LakeArgs;
use crate::error::CliError;

/// The SQL name of a lake table (the quarantine directory is `_quarantine`).
pub fn sql_name(table: &TableDef) -> &'static str {
    sql_name_of(table.name)
}

/// An opened lake: a DataFusion session with every table registered.
pub struct Lake {
    pub ctx: SessionContext,
    pub location: String,
}

fn lake_error(location: &str, message: impl Into<String>, hint: &'static str) -> CliError {
    CliError::Lake {
        location: location.to_owned(),
        message: message.into(),
        hint,
    }
}

/// Parses `--lake`, with a helpful error.
pub fn location(args: &LakeArgs) -> Result<LakeLocation, CliError> {
    LakeLocation::parse(&args.lake)
        .map_err(|e| lake_error(&args.lake, e.0, "use a directory or s3://bucket/prefix"))
}

impl Lake {
    /// Opens the lake at `args.lake`; S3 credentials, region and endpoint
    /// from the standard AWS chain with the CLI's overrides.
    pub async fn open(args: &LakeArgs) -> Result<Lake, CliError> {
        Self::open_inner(args, None).await
    }

    /// Opens the lake with a given AWS SDK configuration for S3 (a Lambda's,
    /// or a test's in-process endpoint).
    pub async fn open_with_sdk(args: &LakeArgs, sdk: &SdkConfig) -> Result<Lake, CliError> {
        Self::open_inner(args, Some(sdk)).await
    }

    async fn open_inner(args: &LakeArgs, sdk: Option<&SdkConfig>) -> Result<Lake, CliError> {
        // DataFusion's own settings can be tuned with DATAFUSION_* variables
        // (e.g. DATAFUSION_EXECUTION_TARGET_PARTITIONS).
        let mut config = SessionConfig::from_env()
            .map_err(|e| {
                lake_error(
                    &args.lake,
                    e.to_string(),
                    "check the DATAFUSION_* variables",
                )
            })?
            .with_information_schema(true);
        // PostgreSQL rather than the generic dialect: the generic one accepts a
        // trailing comma before `CLUSTER BY`, so `SELECT task_id, cluster FROM ...`
        // (a column every table has) fails to parse.
        config.options_mut().sql_parser.dialect = datafusion::config::Dialect::PostgreSQL;
        let ctx = SessionContext::new_with_config(config);
        let base = match location(args)? {
            LakeLocation::Local(dir) => {
                let abs = std::fs::canonicalize(&dir).map_err(|e| {
                    lake_error(&args.lake, format!("{e}"), "build a lake with `ecs-query ingest --lake DIR FILE...`, or pass --lake / ECS_LAKE")
                })?;
                Url::from_directory_path(&abs).map_err(|_| {
                    lake_error(
                        &args.lake,
                        "not an absolute directory path",
                        "pass a directory",
                    )
                })?
            }
            LakeLocation::S3 { bucket, prefix } => {
                let sdk = match sdk {
                    Some(sdk) => sdk.clone(),
                    None => sdk_config(args).await,
                };
                let store = s3_object_store(args, &sdk, &bucket)?;
                let bucket_url = Url::parse(&format!("s3://{bucket}"))
                    .map_err(|e| lake_error(&args.lake, e.to_string(), "use s3://bucket/prefix"))?;
                ctx.register_object_store(&bucket_url, store);
                let prefix = if prefix.is_empty() {
                    String::new()
                } else {
                    format!("{prefix}/")
                };
                Url::parse(&format!("s3://{bucket}/{prefix}"))
                    .map_err(|e| lake_error(&args.lake, e.to_string(), "use s3://bucket/prefix"))?
            }
        };
        for table in TABLES {
            register(&ctx, &base, table).await.map_err(|e| {
                lake_error(
                    &args.lake,
                    format!("table {}: {e}", table.name),
                    "check the lake location",
                )
            })?;
        }
        crate::views::register(&ctx).await.map_err(|e| {
            lake_error(
                &args.lake,
                format!("views: {e}"),
                "this is a bug: please report it",
            )
        })?;
        Ok(Lake {
            ctx,
            location: args.lake.clone(),
        })
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

async fn register(
    ctx: &SessionContext,
    base: &Url,
    table: &'static TableDef,
) -> datafusion::error::Result<()> {
    let url = base
        .join(&format!("{}/", table.name))
        .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
    if url.scheme() == "file" && url.to_file_path().is_ok_and(|p| !p.is_dir()) {
        // Nothing written to this table yet: an empty table with the right columns.
        let empty = MemTable::try_new(query_schema(table), vec![vec![]])?;
        ctx.register_table(sql_name(table), Arc::new(empty))?;
        return Ok(());
    }
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![(PARTITION_COLUMN.to_owned(), DataType::Utf8)]);
    let config = ListingTableConfig::new(ListingTableUrl::parse(url.as_str())?)
        .with_listing_options(options)
        .with_schema(read_schema(table));
    ctx.register_table(sql_name(table), Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

/// The AWS SDK configuration from the standard chain, with the CLI's overrides.
pub async fn sdk_config(args: &LakeArgs) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &args.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &args.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// An aws-sdk-s3 client for writing (path-style when an endpoint is overridden).
pub async fn s3_client(args: &LakeArgs) -> aws_sdk_s3::Client {
    let sdk = sdk_config(args).await;
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(args.endpoint_url.is_some())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

fn s3_object_store(
    args: &LakeArgs,
    sdk: &SdkConfig,
    bucket: &str,
) -> Result<Arc<dyn object_store::ObjectStore>, CliError> {
    let credentials = sdk.credentials_provider().ok_or_else(|| {
        lake_error(
            &args.lake,
            "no AWS credentials found",
            "configure credentials (aws configure, aws sso login, AWS_PROFILE, or env vars)",
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
    if let Some(endpoint) = args.endpoint_url.as_deref().or(sdk.endpoint_url()) {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
    }
    let store = builder.build().map_err(|e| {
        lake_error(
            &args.lake,
            e.to_string(),
            "check the bucket name and region",
        )
    })?;
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

/// The table called `name`, by its SQL name (`quarantine`) or stored name (`_quarantine`).
pub fn table_named(name: &str) -> Result<&'static TableDef, CliError> {
    TABLES
        .iter()
        .copied()
        .find(|t| sql_name(t) == name || t.name == name)
        .ok_or_else(|| CliError::NoSuchTable(name.to_owned()))
}

/// The SQL name for a stored table name.
pub fn sql_name_of(stored: &str) -> &str {
    stored.trim_start_matches('_')
}
