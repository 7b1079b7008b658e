//! The CloudWatch Logs payload as decoded JSON (`messageType`, `logGroup`,
//! `logStream`, `logEvents`), and what its log group and stream name say:
//! a Container Insights performance group names its cluster, an awslogs
//! stream names its container and task.

use std::borrow::Cow;

use serde::Deserialize;

use crate::lenient::{self, Str};

const PERFORMANCE_PREFIX: &str = "/aws/ecs/containerinsights/";
const PERFORMANCE_SUFFIX: &str = "/performance";

/// The decoded payload. Unknown fields (`subscriptionFilters`, `policyLevel`, ...) are ignored.
#[derive(Deserialize)]
pub(super) struct LogsData<'a> {
    #[serde(rename = "messageType", borrow)]
    pub(super) message_type: Cow<'a, str>,
    #[serde(default, borrow)]
    pub(super) owner: Str<'a>,
    #[serde(rename = "logGroup", default, borrow)]
    pub(super) log_group: Cow<'a, str>,
    #[serde(rename = "logStream", default, borrow)]
    pub(super) log_stream: Cow<'a, str>,
    /// Missing only in a malformed payload (quarantined); `[]` is read as
    /// a payload without events.
    #[serde(rename = "logEvents", default, borrow)]
    pub(super) log_events: Option<Vec<LogEvent<'a>>>,
}

#[derive(Deserialize)]
pub(super) struct LogEvent<'a> {
    #[serde(default, borrow)]
    pub(super) id: Str<'a>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub(super) timestamp: Option<i64>,
    #[serde(borrow)]
    pub(super) message: Cow<'a, str>,
}

/// What every event of one payload (or export file) shares.
pub struct StreamCtx<'a> {
    pub log_group: &'a str,
    pub log_stream: &'a str,
    pub owner: Option<&'a str>,
    /// `Some(cluster)` for a Container Insights performance log group.
    pub performance_cluster: Option<&'a str>,
    /// Container and task from an awslogs stream name.
    pub stream_task: Option<(&'a str, &'a str)>,
}

impl<'a> StreamCtx<'a> {
    pub fn new(log_group: &'a str, log_stream: &'a str, owner: Option<&'a str>) -> Self {
        Self {
            log_group,
            log_stream,
            owner,
            performance_cluster: performance_cluster(log_group),
            stream_task: awslogs_stream(log_stream),
        }
    }
}

/// The cluster of a Container Insights performance log group.
pub fn performance_cluster(log_group: &str) -> Option<&str> {
    log_group
        .strip_prefix(PERFORMANCE_PREFIX)?
        .strip_suffix(PERFORMANCE_SUFFIX)
        .filter(|c| !c.is_empty() && !c.contains('/'))
}

/// `(container, task_id)` from an awslogs stream name `prefix/container/task-id`.
/// The task id must look like one (32 hex digits, or an old-style UUID), so
/// other streams (Lambda's `2024/01/01/[$LATEST]...`) are not misread.
pub fn awslogs_stream(stream: &str) -> Option<(&str, &str)> {
    let mut parts = stream.rsplitn(3, '/');
    let task = parts.next()?;
    let container = parts.next()?;
    let prefix = parts.next()?;
    (!prefix.is_empty() && !container.is_empty() && looks_like_task_id(task))
        .then_some((container, task))
}

fn looks_like_task_id(s: &str) -> bool {
    let hex = |c: u8| c.is_ascii_hexdigit();
    match s.len() {
        32 => s.bytes().all(hex),
        36 => s.bytes().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == b'-'
            } else {
                hex(c)
            }
        }),
        _ => false,
    }
}

/// A string field that is present and not empty.
pub(super) fn opt<'b>(v: &'b Str<'_>) -> Option<&'b str> {
    v.as_deref().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn performance_log_groups_name_their_cluster() {
        assert_eq!(
            performance_cluster("/aws/ecs/containerinsights/prod-eu/performance"),
            Some("prod-eu")
        );
        assert_eq!(
            performance_cluster("/aws/ecs/containerinsights//performance"),
            None
        );
        assert_eq!(performance_cluster("/ecs/app"), None);
        assert_eq!(
            performance_cluster("/aws/ecs/containerinsights/prod/application"),
            None
        );
    }

    #[test]
    fn awslogs_stream_names() {
        assert_eq!(
            awslogs_stream("ecs/web/5a1b2c3d4e5f60718293a4b5c6d7e8f9"),
            Some(("web", "5a1b2c3d4e5f60718293a4b5c6d7e8f9"))
        );
        assert_eq!(
            awslogs_stream("my/pre/fix/app/0d7650e6-dec3-4c1a-9200-f72098071e8f"),
            Some(("app", "0d7650e6-dec3-4c1a-9200-f72098071e8f"))
        );
        assert_eq!(
            awslogs_stream("2022/11/10/[$LATEST]26b6a45d574f442ea28438923cbf7bf7"),
            None
        );
        assert_eq!(awslogs_stream("testLogStream"), None);
        assert_eq!(awslogs_stream("web/5a1b2c3d4e5f60718293a4b5c6d7e8f9"), None);
    }
}
