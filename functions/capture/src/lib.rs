//! What AWS holds about an ECS fleet, read into the lake through the core's
//! ingest (`ecs_lake::ingest`), so it is normalized, redacted and written
//! exactly like the files `ecs-query ingest` reads:
//!
//! * [`capture`] — the configuration behind the tasks (task definitions,
//!   services, target groups, deployment history), once per version; run by
//!   the poll-health Lambda each minute and by `ecs-query backfill --from-aws`.
//! * [`backfill`] — what AWS still holds on day one: the tasks it still
//!   describes (stopped ones for about an hour) and the CloudWatch Logs
//!   within their retention, resumable and idempotent.
//!
//! Answers are kept as AWS sent them: [`RawBody`] reads a response body
//! before the SDK turns it into types that cannot be serialised back.

pub mod backfill;
pub mod capture;

mod raw;

pub use raw::RawBody;
