//! What the lake never keeps: secrets in what it stores verbatim.
//!
//! Two places carry them: the environment of RunTask overrides in a task
//! event (stored whole in `task_events.raw`), and application log messages
//! (`logs.message`). Both are redacted here, and nowhere else, so what counts
//! as a secret is decided once.

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use memchr::memmem;

/// What replaces an environment value from a task's overrides in `raw`.
pub const REDACTED: &str = "<redacted>";

/// The event as stored in `raw`, with the values of
/// `detail.overrides.containerOverrides[].environment[]` replaced by
/// [`REDACTED`] (names kept): RunTask overrides often carry credentials and
/// connection strings, and the lake keeps events for months. Events without
/// environment overrides (nearly all) are returned as they came.
pub fn redact_overrides(raw: &str) -> Cow<'_, str> {
    // memchr's SIMD search: this runs on every task event (std's
    // `contains` was ~1,500 instructions per event, bench/RESULTS.md issue 21).
    static ENVIRONMENT: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new("\"environment\""));
    if ENVIRONMENT.find(raw.as_bytes()).is_none() {
        return Cow::Borrowed(raw);
    }
    let Ok(mut event) = serde_json::from_str::<serde_json::Value>(raw) else {
        return Cow::Borrowed(raw);
    };
    let mut redacted = false;
    let overrides = event
        .pointer_mut("/detail/overrides/containerOverrides")
        .and_then(serde_json::Value::as_array_mut);
    for container in overrides.into_iter().flatten() {
        let vars = container
            .get_mut("environment")
            .and_then(serde_json::Value::as_array_mut);
        for var in vars.into_iter().flatten() {
            if let Some(value) = var.get_mut("value") {
                *value = serde_json::Value::String(REDACTED.into());
                redacted = true;
            }
        }
    }
    if redacted {
        Cow::Owned(event.to_string())
    } else {
        Cow::Borrowed(raw)
    }
}

/// What a secret in a log message is replaced by.
pub const REDACTED_SECRET: &str = "<redacted>";
const REDACTED_KEY: &str = "<redacted:aws-access-key>";

/// Where a secret may start: AWS access key ids (`AKIA`, `ASIA`), bearer
/// tokens, and URLs (whose userinfo may hold a password).
static SECRET_MARKERS: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostFirst)
        .build(["AKIA", "ASIA", "Bearer ", "bearer ", "BEARER ", "://"])
        .ok()
});

/// A log message with obvious secrets replaced: AWS access key ids
/// (`AKIA`/`ASIA` + 16 upper-case letters or digits, as a word) by
/// `<redacted:aws-access-key>`, bearer tokens (8 or more token characters
/// after `Bearer `) and the password of a URL's userinfo
/// (`scheme://user:PASSWORD@host`) by `<redacted>`. Messages without any
/// (nearly all) are returned as they came. Not a secret scanner: it catches
/// what is common and unambiguous, without guessing at entropy.
pub fn redact_secrets(message: &str) -> Cow<'_, str> {
    let Some(markers) = SECRET_MARKERS.as_ref() else {
        return Cow::Borrowed(message);
    };
    let bytes = message.as_bytes();
    let token_char = |b: &u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(b);
    let mut out: Option<String> = None;
    let mut done = 0;
    for m in markers.find_iter(message) {
        if m.start() < done {
            continue;
        }
        let span = match m.pattern().as_usize() {
            0 | 1 => {
                let end = m.start() + 20;
                let key = end <= bytes.len()
                    && bytes[m.end()..end]
                        .iter()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                    && (m.start() == 0 || !bytes[m.start() - 1].is_ascii_alphanumeric())
                    && bytes.get(end).is_none_or(|b| !b.is_ascii_alphanumeric());
                key.then_some((m.start(), end, REDACTED_KEY))
            }
            2..=4 => {
                let len = bytes[m.end()..]
                    .iter()
                    .take_while(|b| token_char(b))
                    .count();
                (len >= 8).then_some((m.end(), m.end() + len, REDACTED_SECRET))
            }
            _ => {
                let rest = &bytes[m.end()..];
                let authority = rest
                    .iter()
                    .position(|b| b"/?#\"'<> \t\r\n".contains(b))
                    .map_or(rest, |end| &rest[..end]);
                match (
                    authority.iter().position(|b| *b == b':'),
                    authority.iter().rposition(|b| *b == b'@'),
                ) {
                    (Some(colon), Some(at)) if colon + 1 < at => {
                        Some((m.end() + colon + 1, m.end() + at, REDACTED_SECRET))
                    }
                    _ => None,
                }
            }
        };
        if let Some((from, to, with)) = span {
            let s = out.get_or_insert_with(|| String::with_capacity(message.len()));
            s.push_str(&message[done..from]);
            s.push_str(with);
            done = to;
        }
    }
    match out {
        Some(mut s) => {
            s.push_str(&message[done..]);
            Cow::Owned(s)
        }
        None => Cow::Borrowed(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obvious_secrets_are_redacted() {
        let cases = [
            // (message, stored)
            (
                "using key AKIAIOSFODNN7EXAMPLE for s3",
                "using key <redacted:aws-access-key> for s3",
            ),
            (
                r#"{"accessKeyId":"ASIAY34FZKBOKMUTVV7A"}"#,
                r#"{"accessKeyId":"<redacted:aws-access-key>"}"#,
            ),
            (
                "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc-_/+=",
                "Authorization: Bearer <redacted>",
            ),
            (
                "connecting to postgres://app:s3cr3t!pw@db.internal:5432/orders",
                "connecting to postgres://app:<redacted>@db.internal:5432/orders",
            ),
            (
                "redis://:hunter2@cache:6379 and https://u:p%40ss@x.example/a",
                "redis://:<redacted>@cache:6379 and https://u:<redacted>@x.example/a",
            ),
        ];
        for (message, stored) in cases {
            assert_eq!(redact_secrets(message), stored, "{message}");
        }
    }

    #[test]
    fn lookalikes_are_left_alone() {
        for message in [
            "GET https://example.com/health 200",
            "user@example.com logged in via http://host:8080/",
            "AKIAIOSFODNN7EXAMPL is short, XAKIAIOSFODNN7EXAMPLE is inside a word",
            "bearer of bad news",
            "Bearer short",
            "AKIAIOSFODNN7EXAMPLEX (21 characters)",
            "ünïcödé ://: @ AKIA",
        ] {
            assert!(
                matches!(redact_secrets(message), Cow::Borrowed(_)),
                "{message} -> {}",
                redact_secrets(message)
            );
        }
    }
}
