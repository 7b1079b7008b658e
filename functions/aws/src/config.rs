//! Lambda configuration, read once in `main` from the environment.

use std::path::PathBuf;

/// Where the lake lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LakeLocation {
    S3 { bucket: String, prefix: String },
    Local(PathBuf),
}

impl LakeLocation {
    /// Parses `s3://bucket/prefix` or a directory path.
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        match s.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(ConfigError(format!(
                        "{s:?} has no bucket: use s3://bucket/prefix"
                    )));
                }
                Ok(Self::S3 {
                    bucket: bucket.to_owned(),
                    prefix: prefix.trim_matches('/').to_owned(),
                })
            }
            None if s.contains("://") => Err(ConfigError(format!(
                "{s:?}: only s3:// URLs and local directories are supported"
            ))),
            None if s.is_empty() => Err(ConfigError("the lake location is empty".into())),
            None => Ok(Self::Local(PathBuf::from(s))),
        }
    }
}

/// What an ingest Lambda needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub lake: LakeLocation,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// `LAKE_BUCKET` (+ optional `LAKE_PREFIX`), or `LAKE_DIR` for a local lake.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let lake = match (var("LAKE_BUCKET"), var("LAKE_DIR")) {
            (Some(bucket), _) if !bucket.is_empty() => LakeLocation::S3 {
                bucket,
                prefix: var("LAKE_PREFIX")
                    .unwrap_or_default()
                    .trim_matches('/')
                    .to_owned(),
            },
            (_, Some(dir)) if !dir.is_empty() => LakeLocation::Local(PathBuf::from(dir)),
            _ => {
                return Err(ConfigError(
                    "set LAKE_BUCKET (and optionally LAKE_PREFIX) to the lake's S3 bucket, or LAKE_DIR to a local directory".into(),
                ));
            }
        };
        Ok(Self { lake })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lake_locations() {
        assert_eq!(
            LakeLocation::parse("s3://b/some/prefix/").unwrap(),
            LakeLocation::S3 {
                bucket: "b".into(),
                prefix: "some/prefix".into()
            }
        );
        assert_eq!(
            LakeLocation::parse("s3://b").unwrap(),
            LakeLocation::S3 {
                bucket: "b".into(),
                prefix: "".into()
            }
        );
        assert_eq!(
            LakeLocation::parse("./lake").unwrap(),
            LakeLocation::Local("./lake".into())
        );
        assert!(LakeLocation::parse("s3://").is_err());
        assert!(LakeLocation::parse("gs://b/x").is_err());
    }

    #[test]
    fn env_config_names_what_to_set() {
        let err = Config::from_vars(|_| None).unwrap_err().to_string();
        assert!(
            err.contains("LAKE_BUCKET") && err.contains("LAKE_DIR"),
            "{err}"
        );
        let c = Config::from_vars(|k| match k {
            "LAKE_BUCKET" => Some("lake".into()),
            "LAKE_PREFIX" => Some("/ecs/".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            c.lake,
            LakeLocation::S3 {
                bucket: "lake".into(),
                prefix: "ecs".into()
            }
        );
    }
}
