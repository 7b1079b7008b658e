//! Log levels of application lines (`logs.level`): from a JSON level field
//! (a name or a pino/bunyan number) or from the text of the line.
//!
//! Producers spell levels a dozen ways (`WARNING`, `warn`, `30`, `crit`); the
//! lake stores one of six names, [`Level::as_str`].

use std::borrow::Cow;

use serde::Deserialize;

/// A normalized log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub const ALL: [Level; 6] = [
        Self::Trace,
        Self::Debug,
        Self::Info,
        Self::Warn,
        Self::Error,
        Self::Fatal,
    ];

    /// The stable name stored in `logs.level`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
            Self::Fatal => "fatal",
        }
    }
}

crate::stored_name!(Level, "logs.level");

/// Normalizes a level word as producers write it; `None` for words that are not levels.
pub fn level_name(word: &str) -> Option<Level> {
    const SPELLINGS: &[(&str, Level)] = &[
        ("trace", Level::Trace),
        ("debug", Level::Debug),
        ("dbug", Level::Debug),
        ("info", Level::Info),
        ("information", Level::Info),
        ("notice", Level::Info),
        ("warn", Level::Warn),
        ("warning", Level::Warn),
        ("error", Level::Error),
        ("err", Level::Error),
        ("eror", Level::Error),
        ("severe", Level::Error),
        ("fatal", Level::Fatal),
        ("critical", Level::Fatal),
        ("crit", Level::Fatal),
        ("panic", Level::Fatal),
        ("emerg", Level::Fatal),
        ("alert", Level::Fatal),
    ];
    SPELLINGS
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(word))
        .map(|&(_, level)| level)
}

/// A level field of a JSON line: a name (`"warn"`, `"WARNING"`) or a
/// pino/bunyan number (30 = info); anything else is no level.
pub fn json_level<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Level>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Value<'a> {
        Name(#[serde(borrow)] Cow<'a, str>),
        Number(f64),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Value::deserialize(d)? {
        Value::Name(name) => level_name(&name),
        Value::Number(n) => Some(match n as i64 {
            ..=10 => Level::Trace,
            11..=20 => Level::Debug,
            21..=30 => Level::Info,
            31..=40 => Level::Warn,
            41..=50 => Level::Error,
            _ => Level::Fatal,
        }),
        Value::Other(_) => None,
    })
}

/// A level from a text line's first 80 bytes: an upper-case level word
/// (`ERROR`, `[WARN]`, `2024-... INFO ...`, `WARNING:root:`), a `level=` /
/// `severity=` pair, or a lower-case level word that opens the line and ends
/// with `:` (winston's `error: ...`).
pub fn text_level(message: &str) -> Option<Level> {
    let head = &message.as_bytes()[..message.len().min(80)];
    let mut start = 0;
    let mut first = true;
    while start < head.len() {
        if !head[start].is_ascii_alphabetic() {
            start += 1;
            continue;
        }
        let end = head[start..]
            .iter()
            .position(|c| !c.is_ascii_alphabetic())
            .map_or(head.len(), |p| start + p);
        let word = &message[start..end];
        let key_before = message[..start]
            .trim_end_matches(['=', ':', '"', ' '])
            .rsplit(|c: char| !c.is_ascii_alphabetic())
            .next()
            .is_some_and(|k| {
                ["level", "lvl", "severity", "loglevel"]
                    .iter()
                    .any(|w| w.eq_ignore_ascii_case(k))
            })
            && message[..start].ends_with(['=', ':', '"']);
        let upper = word.bytes().all(|c| c.is_ascii_uppercase());
        let opens_line = first && head.get(end) == Some(&b':');
        if (upper || key_before || opens_line)
            && let Some(level) = level_name(word)
        {
            return Some(level);
        }
        first = false;
        start = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_from_text() {
        let cases = [
            ("[ERROR] First test message", Some("error")),
            (
                "2024-01-01 12:00:00.123 WARN 1 --- [main] c.e.App : slow",
                Some("warn"),
            ),
            ("WARNING:root:disk almost full", Some("warn")),
            (
                "time=2024-01-01T00:00:00Z level=info msg=started",
                Some("info"),
            ),
            ("error: connect ECONNREFUSED 10.0.0.1:5432", Some("error")),
            ("I sent info to the user", None),
            ("Sending error report", None),
            ("FATAL ERROR: Reached heap limit", Some("fatal")),
            ("plain text", None),
            ("", None),
        ];
        for (line, want) in cases {
            assert_eq!(text_level(line).map(Level::as_str), want, "{line}");
        }
    }

    #[test]
    fn names_round_trip() {
        for l in Level::ALL {
            assert_eq!(l.as_str().parse::<Level>(), Ok(l));
            assert_eq!(level_name(l.as_str()), Some(l));
            assert_eq!(l.to_string(), l.as_str());
        }
        assert!(
            "WARNING".parse::<Level>().is_err(),
            "only stored names parse"
        );
    }

    #[test]
    fn stored_names_are_the_documented_ones() {
        let doc = crate::schema::logs::COLUMNS
            .iter()
            .find(|c| c.name == "level")
            .map(|c| c.doc)
            .unwrap_or_default();
        for l in Level::ALL {
            assert!(doc.contains(l.as_str()), "{l} is not in {doc:?}");
        }
    }
}
