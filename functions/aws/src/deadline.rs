//! The invocation's deadline over a store: S3 retries stop in time for the
//! handler to answer with `batchItemFailures`.
//!
//! Without it, a stalled S3 could keep retrying (5 attempts x 10 s plus
//! backoff) past the function's timeout: Lambda would then kill the
//! invocation and SQS would redeliver the whole batch, including the records
//! that were written. With it, a PUT still running at the deadline is given
//! up, exactly its records are reported failed, and the rest of the batch is
//! settled.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ecs_lake::lake::LakeFiles;
use ecs_lake::lake::StoreErrorKind;
use ecs_lake::{LakeStore, StoreError};
use tokio::time::Instant;

/// Time kept back from the invocation's deadline to encode the response and
/// return it to the Lambda runtime.
pub const RESPONSE_MARGIN: Duration = Duration::from_millis(1500);

/// When writes must be given up: the Lambda context's deadline (milliseconds
/// since the epoch) less [`RESPONSE_MARGIN`], as a monotonic instant. A
/// deadline already past gives "now" (every write fails at once, cleanly).
pub fn write_deadline(context_deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let left = Duration::from_millis(context_deadline_ms.saturating_sub(now_ms));
    Instant::now() + left.saturating_sub(RESPONSE_MARGIN)
}

/// A [`LakeStore`] whose writes fail (with a clear error) when they have not
/// finished by `deadline`.
#[derive(Debug)]
pub struct WithDeadline<'a, S> {
    store: &'a S,
    deadline: Instant,
}

impl<'a, S: LakeStore> WithDeadline<'a, S> {
    pub fn new(store: &'a S, deadline: Instant) -> Self {
        Self { store, deadline }
    }
}

impl<S: LakeStore> LakeStore for WithDeadline<'_, S> {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        match tokio::time::timeout_at(self.deadline, self.store.put(key, body)).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::new(
                StoreErrorKind::Timeout,
                format!(
                    "PUT {key} in {} did not finish before the invocation's deadline (S3 slow or unreachable); its records are returned for redelivery",
                    self.store.location()
                ),
            )
            .with_key(key)),
        }
    }

    fn location(&self) -> String {
        self.store.location()
    }
}

/// Listing, reading and deleting under the same deadline.
impl<S: LakeFiles> LakeFiles for WithDeadline<'_, S> {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.within("LIST", prefix, self.store.list(prefix)).await
    }

    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        self.within("GET", key, self.store.get(key)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.within("DELETE", key, self.store.delete(key)).await
    }
}

impl<S: LakeStore> WithDeadline<'_, S> {
    async fn within<T>(
        &self,
        what: &str,
        key: &str,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout_at(self.deadline, call)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::new(
                    StoreErrorKind::Timeout,
                    format!(
                        "{what} {key} in {} did not finish before the invocation's deadline",
                        self.store.location()
                    ),
                )
                .with_key(key))
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A store whose every write takes `delay`.
    struct Slow(Duration);

    impl LakeStore for Slow {
        async fn put(&self, _: &str, _: Bytes) -> Result<(), StoreError> {
            tokio::time::sleep(self.0).await;
            Ok(())
        }
        fn location(&self) -> String {
            "slow".into()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn writes_past_the_deadline_fail_and_earlier_ones_pass() {
        let slow = Slow(Duration::from_secs(5));
        let start = Instant::now();
        let late = WithDeadline::new(&slow, start + Duration::from_secs(2));
        let err = late.put("t/a.parquet", Bytes::new()).await.unwrap_err();
        assert!(err.message.contains("deadline"), "{err}");
        assert_eq!(err.kind, StoreErrorKind::Timeout);
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        let early = WithDeadline::new(&slow, Instant::now() + Duration::from_secs(6));
        early.put("t/a.parquet", Bytes::new()).await.unwrap();
    }

    #[test]
    fn the_write_deadline_keeps_the_margin() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = write_deadline(now_ms + 60_000) - Instant::now();
        assert!(
            left <= Duration::from_secs(60) - RESPONSE_MARGIN,
            "{left:?}"
        );
        assert!(left > Duration::from_secs(57), "{left:?}");
        // Past deadlines do not underflow.
        assert!(write_deadline(0) <= Instant::now());
    }
}
