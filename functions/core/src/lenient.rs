//! Lenient readers for the value shapes real ECS payloads use.
//!
//! ECS sends numbers as JSON numbers *or* strings (`"cpu": "1024"`), sends the
//! string `"null"` for absent values (`"cpu": "null"`), and timestamps with
//! zero to three fractional digits. These helpers accept all of those and
//! reject what is really malformed, so that a bad payload is quarantined with a
//! reason instead of being half-read.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate};
use serde::Deserializer;
use serde::de::{self, Visitor};

/// Deserializes an optional integer sent as a number, a numeric string, `null`,
/// `""` or `"null"`. Fractions are refused: ECS never sends them for these fields.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct IntVisitor;
    impl<'de> Visitor<'de> for IntVisitor {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an integer, a numeric string, or null")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("integer {v} is out of range")))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                Ok(Some(v as i64))
            } else {
                Err(E::custom(format!("expected an integer, found {v}")))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_int_str(v).map_err(E::custom)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(IntVisitor)
        }
    }
    d.deserialize_option(IntVisitor)
}

/// Deserializes an optional number sent as a number, a numeric string, `null`,
/// `""` or `"null"` (Container Insights sends some metrics as strings).
/// Non-finite values are refused.
pub fn float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct FloatVisitor;
    impl<'de> Visitor<'de> for FloatVisitor {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number, a numeric string, or null")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let t = v.trim();
            if t.is_empty() || t.eq_ignore_ascii_case("null") {
                return Ok(None);
            }
            match t.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Some(n)),
                _ => Err(E::custom(format!(
                    "expected a number, found the string {:?}",
                    truncate(t, 40)
                ))),
            }
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(FloatVisitor)
        }
    }
    d.deserialize_option(FloatVisitor)
}

/// Milliseconds since the epoch (CloudWatch Logs, Container Insights) to
/// microseconds; `None` when out of the range a timestamp column can hold.
pub fn millis_to_micros(ms: i64) -> Option<Micros> {
    ms.checked_mul(1000)
}

/// Parses the string forms of an integer field: `"1024"`, `" 1024 "`, `""`, `"null"`.
pub fn parse_int_str(v: &str) -> Result<Option<i64>, String> {
    let t = v.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("null") {
        return Ok(None);
    }
    t.parse::<i64>().map(Some).map_err(|_| {
        format!(
            "expected an integer, found the string {:?}",
            truncate(t, 40)
        )
    })
}

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

/// Microseconds in a UTC day: `t.div_euclid(MICROS_PER_DAY)` is `t`'s day number.
pub const MICROS_PER_DAY: Micros = 86_400_000_000;

/// The current time in UTC microseconds. Handlers take `now` as a parameter
/// (so tests are reproducible); only `main`s call this.
pub fn now_micros() -> Micros {
    chrono::Utc::now().timestamp_micros()
}

/// Parses an RFC 3339 timestamp with 0-9 fractional digits (ECS sends 0-3, and
/// drops trailing zeros: `05:07:00.61Z`). Returns UTC microseconds.
pub fn parse_time(s: &str) -> Result<Micros, String> {
    if let Some(t) = parse_utc_fast(s.as_bytes()) {
        return Ok(t);
    }
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp_micros())
        .map_err(|e| format!("invalid timestamp {:?}: {e}", truncate(s, 40)))
}

/// The shape ECS and EventBridge send, `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`, parsed
/// without chrono's general machinery (a task event carries up to nine).
/// Anything else returns `None` and goes through chrono.
fn parse_utc_fast(b: &[u8]) -> Option<Micros> {
    fn digits(b: &[u8]) -> Option<u32> {
        b.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    }
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || *b.last()? != b'Z'
    {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        digits(&b[0..4])? as i32,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )?;
    let (h, m, sec) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if h > 23 || m > 59 || sec > 59 {
        return None; // leap seconds and nonsense go through chrono
    }
    let frac = &b[19..b.len() - 1];
    let micros = match frac {
        [] => 0,
        [b'.', f @ ..] if (1..=9).contains(&f.len()) => {
            let n = digits(f)? as u64;
            let scaled = n * 10u64.pow(9 - f.len() as u32); // nanoseconds
            (scaled / 1000) as i64
        }
        _ => return None,
    };
    let days = i64::from(date.num_days_from_ce()) - 719_163; // days from 0001-01-01 to 1970-01-01
    Some(((days * 86_400 + i64::from(h * 3600 + m * 60 + sec)) * 1_000_000) + micros)
}

/// Parses an optional timestamp field; `None`, `""` and `"null"` are absent.
pub fn parse_opt_time(s: Option<&str>) -> Result<Option<Micros>, String> {
    match s {
        None => Ok(None),
        Some(s) if s.is_empty() || s == "null" => Ok(None),
        Some(s) => parse_time(s).map(Some),
    }
}

/// The Hive partition value (`YYYY-MM-DD`, UTC) of a timestamp.
pub fn date_of(t: Micros) -> String {
    DateTime::from_timestamp_micros(t)
        .map(|d| d.date_naive())
        .unwrap_or(NaiveDate::MIN)
        .format("%Y-%m-%d")
        .to_string()
}

/// Cuts a string for an error message, on a character boundary.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}...", &s[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct N {
        #[serde(default, deserialize_with = "int")]
        v: Option<i64>,
    }

    fn n(json: &str) -> Result<Option<i64>, String> {
        serde_json::from_str::<N>(json)
            .map(|n| n.v)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn integers_in_every_shape_ecs_sends() {
        assert_eq!(n(r#"{"v": 1024}"#), Ok(Some(1024)));
        assert_eq!(n(r#"{"v": "1024"}"#), Ok(Some(1024)));
        assert_eq!(n(r#"{"v": "null"}"#), Ok(None));
        assert_eq!(n(r#"{"v": null}"#), Ok(None));
        assert_eq!(n(r#"{"v": ""}"#), Ok(None));
        assert_eq!(n(r#"{}"#), Ok(None));
        assert_eq!(n(r#"{"v": 2.0}"#), Ok(Some(2)));
    }

    #[derive(Deserialize)]
    struct F {
        #[serde(default, deserialize_with = "float")]
        v: Option<f64>,
    }

    #[test]
    fn numbers_as_numbers_or_strings() {
        let f = |json: &str| {
            serde_json::from_str::<F>(json)
                .map(|f| f.v)
                .map_err(|e| e.to_string())
        };
        assert_eq!(f(r#"{"v": 23.6}"#), Ok(Some(23.6)));
        assert_eq!(f(r#"{"v": 256}"#), Ok(Some(256.0)));
        assert_eq!(f(r#"{"v": "277"}"#), Ok(Some(277.0)));
        assert_eq!(f(r#"{"v": " 0.5 "}"#), Ok(Some(0.5)));
        assert_eq!(f(r#"{"v": "null"}"#), Ok(None));
        assert_eq!(f(r#"{}"#), Ok(None));
        assert!(f(r#"{"v": "NaN"}"#).is_err());
        assert!(f(r#"{"v": "lots"}"#).unwrap_err().contains("\"lots\""));
        assert!(f(r#"{"v": true}"#).is_err());
    }

    #[test]
    fn malformed_integers_are_errors_with_the_value() {
        let e = n(r#"{"v": "12ab"}"#).unwrap_err();
        assert!(e.contains("\"12ab\""), "{e}");
        assert!(n(r#"{"v": 1.5}"#).is_err());
        assert!(n(r#"{"v": [1]}"#).is_err());
        assert!(n(r#"{"v": 18446744073709551615}"#).is_err());
    }

    #[test]
    fn timestamps_with_zero_to_three_fraction_digits() {
        let base = parse_time("2022-08-08T05:07:00Z").unwrap();
        assert_eq!(
            parse_time("2022-08-08T05:07:00.6Z").unwrap(),
            base + 600_000
        );
        assert_eq!(
            parse_time("2022-08-08T05:07:00.61Z").unwrap(),
            base + 610_000
        );
        assert_eq!(
            parse_time("2022-08-08T05:07:00.611Z").unwrap(),
            base + 611_000
        );
        assert_eq!(parse_time("2022-08-08T07:07:00+02:00").unwrap(), base);
        assert_eq!(base, 1_659_935_220_000_000);
        assert!(parse_time("yesterday").is_err());
        assert_eq!(parse_opt_time(Some("null")), Ok(None));
    }

    #[test]
    fn fast_path_agrees_with_chrono() {
        let cases = [
            "1970-01-01T00:00:00Z",
            "2016-12-06T16:41:06.8Z",
            "2020-03-16T15:34:59.778Z",
            "2022-08-08T05:07:00.61Z",
            "2024-02-29T23:59:59.999999Z",
            "2026-11-24T12:00:00.123456789Z",
            "1969-12-31T23:59:59.5Z",
            "2000-01-01T00:00:00.000Z",
        ];
        for c in cases {
            let fast = parse_utc_fast(c.as_bytes());
            let slow = DateTime::parse_from_rfc3339(c).unwrap().timestamp_micros();
            assert_eq!(fast, Some(slow), "{c}");
        }
        // Not the fast shape: left to chrono (which accepts or rejects them).
        for c in [
            "2026-11-24T12:00:00+01:00",
            "2026-02-30T00:00:00Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T12:00:00.Z",
            "2026-11-24 12:00:00Z",
            "2026-1x-24T12:00:00Z",
        ] {
            assert_eq!(parse_utc_fast(c.as_bytes()), None, "{c}");
        }
        assert!(parse_time("2026-02-30T00:00:00Z").is_err());
    }

    #[test]
    fn partition_dates_are_utc() {
        assert_eq!(
            date_of(parse_time("2026-11-23T23:59:59.999Z").unwrap()),
            "2026-11-23"
        );
        assert_eq!(
            date_of(parse_time("2026-11-24T00:30:00+01:00").unwrap()),
            "2026-11-23"
        );
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("ééé", 3), "é...");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
