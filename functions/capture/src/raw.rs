//! The body of an AWS answer as the service sent it.

use std::sync::{Arc, Mutex};

use aws_sdk_ecs::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_ecs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ecs::error::BoxError;
use bytes::Bytes;

/// An SDK interceptor that keeps the response body of the call it is
/// attached to (`.customize().interceptor(body.clone())`), for any AWS SDK
/// client (the trait is the smithy runtime's, re-exported by each SDK).
#[derive(Debug, Clone, Default)]
pub struct RawBody(Arc<Mutex<Option<Bytes>>>);

impl RawBody {
    /// The body of the last answer, once.
    pub fn take(&self) -> Option<Bytes> {
        self.0.lock().ok().and_then(|mut b| b.take())
    }
}

impl Intercept for RawBody {
    fn name(&self) -> &'static str {
        "RawBody"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let (Some(bytes), Ok(mut slot)) = (context.response().body().bytes(), self.0.lock()) {
            *slot = Some(Bytes::copy_from_slice(bytes));
        }
        Ok(())
    }
}
