//! Application log lines: one `logs` row per log event, with task and
//! container from the awslogs stream name or FireLens metadata, a [`Level`]
//! and a crash [`Signature`]. Entry point: [`append`].

use serde::Deserialize;

use super::level::{Level, json_level, text_level};
use super::payload::{LogEvent, StreamCtx, opt};
use super::signature::{Signature, signature};
use crate::input::Options;
use crate::lenient::Str;
use crate::redact::redact_secrets;
use crate::rows::Rows;
use crate::schema::logs;
use crate::time::Micros;

/// The fields of a JSON log line this module looks at: FireLens metadata and
/// the usual level keys. Everything else is skipped.
#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonLine<'a> {
    #[serde(borrow)]
    container_name: Str<'a>,
    #[serde(borrow)]
    ecs_cluster: Str<'a>,
    #[serde(borrow)]
    ecs_task_arn: Str<'a>,
    #[serde(borrow)]
    ecs_task_definition: Str<'a>,
    #[serde(borrow)]
    source: Str<'a>,
    /// FireLens: the container's line.
    #[serde(borrow)]
    log: Str<'a>,
    #[serde(deserialize_with = "json_level")]
    level: Option<Level>,
    #[serde(deserialize_with = "json_level")]
    severity: Option<Level>,
    #[serde(deserialize_with = "json_level")]
    levelname: Option<Level>,
    #[serde(deserialize_with = "json_level")]
    lvl: Option<Level>,
    #[serde(rename = "log.level", deserialize_with = "json_level")]
    log_level: Option<Level>,
}

/// Makes room for a payload's `events` as `logs` rows: the messages' bytes
/// (plus 1/32 when secrets are redacted, which can lengthen a message, so a
/// few bytes over do not double the column), the columns every row of the
/// stream shares (group, stream, owner, container and task from the stream
/// name), ids as long as the first one, and levels. Columns read from the
/// line (FireLens fields, signature) grow as needed. Each column's room is
/// capped at [`COLUMN_ROOM_LIMIT`]: past that it grows as it goes.
pub(super) fn reserve(
    rows: &mut Rows,
    ctx: &StreamCtx<'_>,
    events: &[LogEvent<'_>],
    options: Options,
) {
    let n = events.len();
    let mut message: usize = events.iter().map(|e| e.message.len()).sum();
    if options.redact_secrets {
        message += message / 32;
    }
    let id = events
        .first()
        .and_then(|e| e.id.as_deref())
        .map_or(0, str::len);
    let (container, task) = ctx.stream_task.unwrap_or_default();
    rows.reserve_logs(n, |column| {
        let per_row = match column {
            logs::col::message => return message.min(COLUMN_ROOM_LIMIT),
            logs::col::log_group => ctx.log_group.len(),
            logs::col::log_stream => ctx.log_stream.len(),
            logs::col::event_id => id,
            logs::col::account => ctx.owner.map_or(0, str::len),
            logs::col::container => container.len(),
            logs::col::task_id => task.len(),
            logs::col::level => "debug".len(),
            _ => 0,
        };
        n.saturating_mul(per_row).min(COLUMN_ROOM_LIMIT)
    });
}

/// The most room [`reserve`] makes for one column: 4x the decoding limit
/// (a 512-character log group name repeated on every row of a payload at
/// the limit stays under it).
const COLUMN_ROOM_LIMIT: usize = 4 * super::decode::MAX_DECODED_BYTES;

/// Appends one application log event as a `logs` row of `input`. Never
/// refuses: a line that is not JSON, or JSON without the fields looked for,
/// is kept as text.
pub fn append(
    rows: &mut Rows,
    input: u32,
    ctx: &StreamCtx<'_>,
    id: Option<&str>,
    time: Micros,
    message: &str,
    options: Options,
) {
    let json = message
        .starts_with('{')
        .then(|| serde_json::from_str::<JsonLine<'_>>(message).ok())
        .flatten()
        .unwrap_or_default();
    let task_id = opt(&json.ecs_task_arn)
        .and_then(|arn| arn.rsplit('/').next())
        .or(ctx.stream_task.map(|(_, task)| task));
    let container = opt(&json.container_name)
        .map(|c| c.trim_start_matches('/'))
        .or(ctx.stream_task.map(|(container, _)| container));
    let (family, revision) = match opt(&json.ecs_task_definition)
        .and_then(|td| td.rsplit('/').next())
        .and_then(|td| td.rsplit_once(':'))
    {
        Some((family, rev)) => (Some(family), rev.parse::<i32>().ok()),
        None => (None, None),
    };
    let level = json
        .level
        .or(json.severity)
        .or(json.levelname)
        .or(json.lvl)
        .or(json.log_level)
        .or_else(|| text_level(opt(&json.log).unwrap_or(message)));

    let l = rows.log(input);
    l.time.append_value(time);
    l.log_group.append_value(ctx.log_group);
    l.log_stream.append_value(ctx.log_stream);
    l.event_id.append_option(id);
    l.account.append_option(ctx.owner);
    l.cluster.append_option(opt(&json.ecs_cluster));
    l.task_id.append_option(task_id);
    l.container.append_option(container);
    l.family.append_option(family);
    l.revision.append_option(revision);
    l.stream.append_option(opt(&json.source));
    l.level.append_option(level.map(Level::as_str));
    l.signature
        .append_option(signature(message).map(Signature::as_str));
    if options.redact_secrets {
        l.message.append_value(redact_secrets(message));
    } else {
        l.message.append_value(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_levels_by_name_or_number() {
        let level = |json: &str| {
            let l: JsonLine<'_> = serde_json::from_str(json).unwrap();
            l.level
                .or(l.severity)
                .or(l.levelname)
                .or(l.log_level)
                .map(Level::as_str)
        };
        assert_eq!(level(r#"{"level":"WARNING","msg":"x"}"#), Some("warn"));
        assert_eq!(level(r#"{"level":50,"msg":"x"}"#), Some("error"));
        assert_eq!(level(r#"{"severity":"ERROR"}"#), Some("error"));
        assert_eq!(level(r#"{"log.level":"debug"}"#), Some("debug"));
        assert_eq!(level(r#"{"level":{"nested":true}}"#), None);
        assert_eq!(level(r#"{"msg":"no level"}"#), None);
    }
}
