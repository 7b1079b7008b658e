//! Time in the lake: UTC microseconds since the epoch ([`Micros`]), the
//! timestamp shapes ECS and CloudWatch send, and `dt=YYYY-MM-DD` partition days.
//!
//! Every conversion between epochs, days and partition names goes through
//! here, so the writers, compaction and the Lambdas cut days the same way.

use chrono::{DateTime, Datelike, NaiveDate};

use crate::input::truncate;

/// Microseconds since the Unix epoch, UTC: the unit of every timestamp column.
pub type Micros = i64;

/// Microseconds in a UTC day.
pub const MICROS_PER_DAY: Micros = 86_400_000_000;

/// The current time. Handlers take `now` as a parameter (so tests are
/// reproducible); only `main`s call this.
pub fn now_micros() -> Micros {
    chrono::Utc::now().timestamp_micros()
}

/// Today's partition day (UTC), for `main`s and the CLI.
pub fn today() -> String {
    date_of(now_micros())
}

/// The day number of `t` (days since 1970-01-01, UTC): rows with the same
/// number share a partition.
pub fn day_number(t: Micros) -> i64 {
    t.div_euclid(MICROS_PER_DAY)
}

/// The Hive partition value (`YYYY-MM-DD`, UTC) of a timestamp.
pub fn date_of(t: Micros) -> String {
    DateTime::from_timestamp_micros(t)
        .map(|d| d.date_naive())
        .unwrap_or(NaiveDate::MIN)
        .format("%Y-%m-%d")
        .to_string()
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a timestamp, as reports and findings print
/// instants (empty when it is out of range).
pub fn date_time_of(t: Micros) -> String {
    DateTime::from_timestamp_micros(t)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The partition day `days` before `day` (`YYYY-MM-DD`), or `day` itself if
/// it is not a date (then a range starting there selects what it would have).
pub fn day_before(day: &str, days: u32) -> String {
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_sub_days(chrono::Days::new(u64::from(days))))
        .map_or_else(|| day.to_owned(), |d| d.format("%Y-%m-%d").to_string())
}

/// Integer milliseconds since the epoch (CloudWatch Logs) to microseconds;
/// `None` when out of the range a timestamp column can hold.
pub fn millis_to_micros(ms: i64) -> Option<Micros> {
    ms.checked_mul(1000)
}

/// Milliseconds sent as a JSON number, maybe fractional (Container Insights)
/// to microseconds, rounded; `None` for values no clock produces (beyond
/// about 33,000 years either side of 1970), which a record carries only when
/// it is not a millisecond timestamp at all.
pub fn float_millis_to_micros(ms: f64) -> Option<Micros> {
    (ms.abs() < 1.0e15).then(|| (ms * 1000.0).round() as Micros)
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

/// Parses an optional timestamp field; `None`, `""` and `"null"` are absent.
pub fn parse_opt_time(s: Option<&str>) -> Result<Option<Micros>, String> {
    match s {
        None => Ok(None),
        Some(s) if s.is_empty() || s == "null" => Ok(None),
        Some(s) => parse_time(s).map(Some),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn day_numbers_cut_at_utc_midnight() {
        let midnight = parse_time("2026-11-24T00:00:00Z").unwrap();
        assert_eq!(day_number(midnight - 1) + 1, day_number(midnight));
        assert_eq!(
            day_number(midnight),
            day_number(midnight + MICROS_PER_DAY - 1)
        );
        assert_eq!(
            day_number(-1),
            -1,
            "before 1970 rounds down, not toward zero"
        );
    }

    #[test]
    fn day_before_crosses_months_and_years() {
        assert_eq!(day_before("2026-03-01", 1), "2026-02-28");
        assert_eq!(day_before("2027-01-02", 3), "2026-12-30");
        assert_eq!(day_before("junk", 3), "junk");
    }

    #[test]
    fn float_millis_round_and_refuse_nonsense() {
        assert_eq!(
            float_millis_to_micros(1_700_000_000_000.5),
            Some(1_700_000_000_000_500)
        );
        assert_eq!(float_millis_to_micros(2.0e15), None);
        assert_eq!(millis_to_micros(i64::MAX), None);
    }
}
