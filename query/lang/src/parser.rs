//! Recursive-descent parser: tokens -> [`Query`].
//!
//! ```text
//! query   := [ "top" N dim "by" ] metric clause*
//! metric  := "exit" CODE | "exits" [CODE] | "stops" | "oom" | "heap oom" | "restarts"
//!          | "unhealthy" | "time to healthy" | "memory peak" | "cpu peak"
//!          | "deployments" | "logs" [TEXT]
//! clause  := "by" dim ( ("," | "and") dim )*
//!          | ("last" | "past") DURATION            -- 7d, 24h, 30m, 2w, "7 days"
//!          | "since" DATE [ "until" DATE ] | "until" DATE
//!          | "where" cond ( ["and" | ","] cond )*
//!          | ("top" | "limit") N
//!          | "for" SERVICE | "in" CLUSTER
//! cond    := dim ("=" | "!=") VALUE
//! ```
//!
//! Keywords are case-insensitive and `-`/`_` read as spaces; each clause at
//! most once. Every error carries the span, what was expected and, for a
//! misspelt word, the closest known one.

use super::ast::{CLAUSES, DIMS, Dim, Filter, METRICS, Metric, Query, Window};
use super::error::ParseError;
use super::lexer::{Tok, Token, lex};

/// Most clauses a query may have (each kind at most once; `where` conditions
/// and `by` dimensions are capped separately).
const MAX_ITEMS: usize = 16;
const MICROS_PER_MINUTE: i64 = 60_000_000;
/// The longest window accepted by `last`: ten years.
const MAX_LAST_MINUTES: i64 = 10 * 366 * 24 * 60;

pub fn parse(text: &str) -> Result<Query, ParseError> {
    let tokens = lex(text)?;
    let mut p = Parser {
        text,
        tokens,
        pos: 0,
    };
    p.query()
}

/// Parses a window alone: `last 7d`, `since 2026-11-16 until 2026-11-22`,
/// `until ...`; empty text is [`Window::All`].
pub fn parse_window(text: &str) -> Result<Window, ParseError> {
    let tokens = lex(text)?;
    let mut p = Parser {
        text,
        tokens,
        pos: 0,
    };
    p.window_only()
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn error_here(&self, message: impl Into<String>) -> ParseError {
        let span = match self.peek() {
            Some(t) => t.start..t.end,
            None => self.text.len()..self.text.len(),
        };
        ParseError::new(self.text, span, message.into())
    }

    /// "unexpected X" or "the query ends", for the token at the cursor.
    fn found(&self, context: &str) -> ParseError {
        match self.peek() {
            Some(t) => self.error_here(format!("unexpected {} {context}", t.describe())),
            None => self.error_here(format!("the query ends {context}")),
        }
    }

    /// Matches the longest phrase of `table` (1 to 4 words) at the cursor.
    fn phrase<T: Clone>(&self, table: &[(&str, T)]) -> Option<(T, usize)> {
        let mut best: Option<(T, usize)> = None;
        let mut joined = String::new();
        for n in 1..=4 {
            let Some(word) = self.tokens.get(self.pos + n - 1).and_then(Token::keyword) else {
                break;
            };
            if n > 1 {
                joined.push(' ');
            }
            joined.push_str(&word);
            if let Some((_, v)) = table.iter().find(|(w, _)| *w == joined) {
                best = Some((v.clone(), n));
            }
        }
        best
    }

    fn is_keyword(&self, words: &[&str]) -> bool {
        self.peek()
            .and_then(Token::keyword)
            .is_some_and(|k| words.contains(&k.as_str()))
    }

    fn eat_keyword(&mut self, words: &[&str]) -> bool {
        let hit = self.is_keyword(words);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// The rest of a window clause whose first word (`last`, `past`,
    /// `since`, `until`) was just read.
    fn window(&mut self, word: &str, token: &Token) -> Result<Window, ParseError> {
        Ok(match word {
            "last" | "past" => Window::Last(self.duration()?),
            "since" => {
                let from = self.date(false)?;
                let to = if self.eat_keyword(&["until", "to"]) {
                    Some(self.date(true)?)
                } else {
                    None
                };
                if let Some(to) = to
                    && to <= from
                {
                    return Err(ParseError::new(
                        self.text,
                        token.start..self.tokens[self.pos - 1].end,
                        "a window that ends before it starts".into(),
                    )
                    .hint("write since EARLIER until LATER"));
                }
                Window::Range {
                    from: Some(from),
                    to,
                }
            }
            _ => Window::Range {
                from: None,
                to: Some(self.date(true)?),
            },
        })
    }

    /// A window alone (`last 7d`, `since 2026-11-16 until 2026-11-22`), as
    /// `diagnose` takes it; empty text is no window.
    fn window_only(&mut self) -> Result<Window, ParseError> {
        let Some(token) = self.peek().cloned() else {
            return Ok(Window::All);
        };
        let word = token.keyword().unwrap_or_default();
        if !matches!(word.as_str(), "last" | "past" | "since" | "until") {
            return Err(self
                .found("where a window should start")
                .expected(["last 7d", "since DATE [until DATE]", "until DATE"])
                .did_you_mean(&word, ["last", "since", "until"]));
        }
        self.pos += 1;
        let window = self.window(&word, &token)?;
        if self.peek().is_some() {
            return Err(self
                .found("after the window")
                .expected(["the end of the window"]));
        }
        Ok(window)
    }

    fn query(&mut self) -> Result<Query, ParseError> {
        let mut q = Query {
            metric: Metric::Stops,
            by: Vec::new(),
            window: Window::All,
            filters: Vec::new(),
            top: None,
        };
        // `top 10 tasks by memory peak` = `memory peak by task top 10`.
        let prefix_top = if self.eat_keyword(&["top"]) {
            let n = self.count("after \"top\"")?;
            let dim = self.dim("after \"top N\"")?;
            if !self.eat_keyword(&["by"]) {
                return Err(self
                    .found("after \"top N <dimension>\"")
                    .expected(["\"by\" and a metric, e.g. top 10 tasks by memory peak"]));
            }
            Some((n, dim))
        } else {
            None
        };
        q.metric = self.metric()?;
        if let Some((n, dim)) = prefix_top {
            q.top = Some(n);
            q.by.push(dim);
        }
        let mut seen: Vec<&'static str> = Vec::new();
        while let Some(token) = self.peek().cloned() {
            let Some(word) = token.keyword() else {
                return Err(self
                    .found("where a clause should start")
                    .expected(clause_list()));
            };
            let clause = match word.as_str() {
                "by" => "by",
                "last" | "past" | "since" | "until" => "window",
                "where" => "where",
                "top" | "limit" => "top",
                "for" => "for",
                "in" => "in",
                _ => {
                    let mut candidates: Vec<&str> = CLAUSES.to_vec();
                    candidates.extend(DIMS.iter().map(|(w, _)| *w));
                    let mut e = self
                        .error_here(format!("unexpected {}", token.describe()))
                        .expected(clause_list())
                        .did_you_mean(&word, CLAUSES.iter().copied());
                    if e.suggestion.is_none() && DIMS.iter().any(|(w, _)| *w == word) {
                        e = e.hint(format!("to group by {word}, write \"by {word}\""));
                    }
                    return Err(e);
                }
            };
            if seen.contains(&clause) && clause != "where" {
                return Err(self
                    .error_here(format!("a second {clause} clause"))
                    .hint("give each clause once: combine dimensions as `by a, b`"));
            }
            seen.push(clause);
            if seen.len() > MAX_ITEMS {
                return Err(self.error_here("too many clauses"));
            }
            self.pos += 1;
            match word.as_str() {
                "by" => self.by(&mut q)?,
                "last" | "past" | "since" | "until" => q.window = self.window(&word, &token)?,
                "where" => self.conditions(&mut q)?,
                "top" | "limit" => {
                    if q.top.is_some() {
                        return Err(self.error_here("a second top clause"));
                    }
                    q.top = Some(self.count(&format!("after \"{word}\""))?);
                }
                "for" => {
                    let value = self.value("after \"for\" (a service name)")?;
                    q.filters.push(Filter {
                        field: Dim::Service,
                        negated: false,
                        value,
                    });
                }
                _ => {
                    let value = self.value("after \"in\" (a cluster name)")?;
                    q.filters.push(Filter {
                        field: Dim::Cluster,
                        negated: false,
                        value,
                    });
                }
            }
        }
        Ok(q)
    }

    fn metric(&mut self) -> Result<Metric, ParseError> {
        let Some((word, n)) = self.phrase(METRICS) else {
            let e = self
                .found("where a metric should be")
                .expected(metric_list());
            return Err(match self.peek().and_then(Token::keyword) {
                Some(w) => e.did_you_mean(&w, METRICS.iter().map(|(w, _)| *w)),
                None => e,
            });
        };
        self.pos += n;
        Ok(match word {
            Metric::Exit(_) => match self.exit_code() {
                Some(code) => Metric::Exit(code),
                None => {
                    return Err(self
                        .found("after \"exit\"")
                        .expected(["an exit code, e.g. exit 137"])
                        .hint("\"exits\" counts every exit; \"exits by exit code\" splits them"));
                }
            },
            Metric::Exits => self.exit_code().map_or(Metric::Exits, Metric::Exit),
            Metric::Logs(_) => match self.peek().map(|t| &t.tok) {
                Some(Tok::Str(s)) => {
                    let text = s.clone();
                    self.pos += 1;
                    Metric::Logs(Some(text))
                }
                Some(Tok::Word(w)) if !self.is_keyword(CLAUSES) => {
                    let text = w.clone();
                    self.pos += 1;
                    Metric::Logs(Some(text))
                }
                _ => Metric::Logs(None),
            },
            other => other,
        })
    }

    fn exit_code(&mut self) -> Option<i32> {
        let code = match self.peek().map(|t| &t.tok) {
            Some(Tok::Word(w)) => w.parse::<i32>().ok()?,
            _ => return None,
        };
        self.pos += 1;
        Some(code)
    }

    fn dim(&mut self, context: &str) -> Result<Dim, ParseError> {
        match self.phrase(DIMS) {
            Some((dim, n)) => {
                self.pos += n;
                Ok(dim)
            }
            None => {
                let e = match self.peek() {
                    Some(t) => {
                        self.error_here(format!("unknown dimension {} {context}", t.describe()))
                    }
                    None => self.error_here(format!("the query ends {context}")),
                };
                let e = e.expected(dim_list());
                Err(match self.peek().and_then(Token::keyword) {
                    Some(w) => e.did_you_mean(&w, DIMS.iter().map(|(w, _)| *w)),
                    None => e,
                })
            }
        }
    }

    fn by(&mut self, q: &mut Query) -> Result<(), ParseError> {
        loop {
            let dim = self.dim("after \"by\"")?;
            if !q.by.contains(&dim) {
                q.by.push(dim);
            }
            if q.by.len() > MAX_ITEMS {
                return Err(self.error_here("too many dimensions"));
            }
            let comma = matches!(self.peek().map(|t| &t.tok), Some(Tok::Comma));
            if comma || self.is_keyword(&["and"]) {
                self.pos += 1;
            } else {
                return Ok(());
            }
        }
    }

    fn conditions(&mut self, q: &mut Query) -> Result<(), ParseError> {
        let mut first = true;
        loop {
            let at_condition = self.peek().is_some() && !self.is_keyword(CLAUSES);
            if !first && !at_condition {
                return Ok(());
            }
            first = false;
            let field = self.dim("after \"where\"")?;
            let negated = match self.peek().map(|t| &t.tok) {
                Some(Tok::Eq) => false,
                Some(Tok::NotEq) => true,
                _ => {
                    return Err(self
                        .found(&format!("after \"where {}\"", field.name()))
                        .expected(["\"=\"", "\"!=\""]));
                }
            };
            self.pos += 1;
            let value = self.value("after the comparison")?;
            q.filters.push(Filter {
                field,
                negated,
                value,
            });
            if q.filters.len() > MAX_ITEMS {
                return Err(self.error_here("too many conditions"));
            }
            let comma = matches!(self.peek().map(|t| &t.tok), Some(Tok::Comma));
            if comma || self.is_keyword(&["and"]) {
                self.pos += 1;
                if self.peek().is_none() {
                    return Err(self.found("after \"and\"").expected(["another condition"]));
                }
            }
        }
    }

    fn value(&mut self, context: &str) -> Result<String, ParseError> {
        match self.peek().map(|t| &t.tok) {
            Some(Tok::Word(w) | Tok::Str(w)) => {
                let v = w.clone();
                self.pos += 1;
                Ok(v)
            }
            _ => Err(self
                .found(context)
                .expected(["a value (a word, a number or a quoted string)"])),
        }
    }

    fn count(&mut self, context: &str) -> Result<usize, ParseError> {
        let n = match self.peek().map(|t| &t.tok) {
            Some(Tok::Word(w)) => w
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=100_000).contains(n)),
            _ => None,
        };
        match n {
            Some(n) => {
                self.pos += 1;
                Ok(n)
            }
            None => Err(self
                .found(context)
                .expected(["a count from 1 to 100000, e.g. top 10"])),
        }
    }

    /// `7d`, `24h`, `30m`, `2w`, or `7 days`: microseconds.
    fn duration(&mut self) -> Result<i64, ParseError> {
        let expected = ["a duration such as 7d, 24h, 30m, 2w or \"7 days\""];
        let Some(Tok::Word(word)) = self.peek().map(|t| t.tok.clone()) else {
            return Err(self.found("after \"last\"").expected(expected));
        };
        let word = word.to_lowercase();
        let digits = word.chars().take_while(char::is_ascii_digit).count();
        let number: Option<i64> = word[..digits].parse().ok();
        let (number, unit, words) = if digits == word.len() {
            // "7 days": the unit is the next word.
            let unit = self.tokens.get(self.pos + 1).and_then(Token::keyword);
            (number, unit, 2)
        } else {
            (number, Some(word[digits..].to_owned()), 1)
        };
        let minutes = match unit.as_deref() {
            Some("m" | "min" | "mins" | "minute" | "minutes") => Some(1),
            Some("h" | "hr" | "hrs" | "hour" | "hours") => Some(60),
            Some("d" | "day" | "days") => Some(24 * 60),
            Some("w" | "wk" | "week" | "weeks") => Some(7 * 24 * 60),
            _ => None,
        };
        match (number, minutes) {
            (Some(n), Some(m)) if n > 0 && n.saturating_mul(m) <= MAX_LAST_MINUTES => {
                self.pos += words;
                Ok(n * m * MICROS_PER_MINUTE)
            }
            (Some(_), Some(_)) => Err(self
                .error_here("a window of zero or more than ten years")
                .expected(expected)),
            (Some(_), None) if words == 2 => {
                self.pos += 1;
                Err(self.found("as a unit of time").expected(expected))
            }
            _ => Err(self.found("after \"last\"").expected(expected)),
        }
    }

    /// A UTC date or time. A date alone means the start of that day, or with
    /// `end_of_day` (for `until`) the end of it, so `until 2026-11-08`
    /// includes the 8th.
    fn date(&mut self, end_of_day: bool) -> Result<i64, ParseError> {
        let expected = ["a UTC date or time: 2026-11-01, 2026-11-01T10:00 or 2026-11-01T10:00:00Z"];
        let parsed = match self.peek().map(|t| &t.tok) {
            Some(Tok::Word(w) | Tok::Str(w)) => parse_time(w, end_of_day),
            _ => None,
        };
        match parsed {
            Some(t) => {
                self.pos += 1;
                Ok(t)
            }
            None => Err(self.found("where a date should be").expected(expected)),
        }
    }
}

/// A UTC date or time (see [`Parser::date`]), in microseconds.
pub fn parse_time(text: &str, end_of_day: bool) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_micros());
    }
    let trimmed = text.trim_end_matches(['Z', 'z']);
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(trimmed, format) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    let day = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d").ok()?;
    let day = if end_of_day { day.succ_opt()? } else { day };
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros())
}

fn canonical<T: PartialEq + Clone>(table: &[(&'static str, T)]) -> Vec<&'static str> {
    let mut seen: Vec<T> = Vec::new();
    let mut names = Vec::new();
    for (w, v) in table {
        if !seen.contains(v) {
            seen.push(v.clone());
            names.push(*w);
        }
    }
    names
}

fn metric_list() -> Vec<String> {
    let names = canonical(METRICS);
    vec![format!("a metric: {}", names.join(", "))]
}

fn dim_list() -> Vec<String> {
    vec![format!("a dimension: {}", canonical(DIMS).join(", "))]
}

fn clause_list() -> Vec<String> {
    vec!["by, last, since, until, where, top, for, in".into()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Query {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    const DAY: i64 = 24 * 60 * MICROS_PER_MINUTE;

    #[test]
    fn the_brief_examples_parse() {
        let e = q("exit 137 by revision last 7d");
        assert_eq!(e.metric, Metric::Exit(137));
        assert_eq!(e.by, vec![Dim::Revision]);
        assert_eq!(e.window, Window::Last(7 * DAY));

        assert_eq!(q("oom by service last 24h").window, Window::Last(DAY));
        let s = q("stops by cause since 2026-11-01");
        assert_eq!(
            s.window,
            Window::Range {
                from: Some(1_793_491_200_000_000),
                to: None
            }
        );
        let u = q("unhealthy by deployment last 7d where service=api");
        assert_eq!(
            u.filters,
            vec![Filter {
                field: Dim::Service,
                negated: false,
                value: "api".into()
            }]
        );
        assert_eq!(
            q("memory peak by revision last 30d").metric,
            Metric::MemoryPeak
        );
        assert_eq!(q("restarts by day last 14d").by, vec![Dim::Day]);
        assert_eq!(q("deployments last 7d").metric, Metric::Deployments);
        let l = q("logs \"heap out of memory\" by revision last 7d");
        assert_eq!(l.metric, Metric::Logs(Some("heap out of memory".into())));
        let t = q("top 10 tasks by memory peak last 24h");
        assert_eq!(
            (t.metric, t.by, t.top),
            (Metric::MemoryPeak, vec![Dim::Task], Some(10))
        );
    }

    #[test]
    fn case_synonyms_and_spellings() {
        let a = q("EXIT 137 BY Rev, SVC Last 7 Days WHERE Svc != api AND rev=api:42 TOP 5");
        assert_eq!(a.by, vec![Dim::Revision, Dim::Service]);
        assert_eq!(a.window, Window::Last(7 * DAY));
        assert_eq!(a.filters.len(), 2);
        assert!(a.filters[0].negated);
        assert_eq!(a.top, Some(5));
        assert_eq!(
            q("Time-To-Healthy by launch_type").metric,
            Metric::TimeToHealthy
        );
        assert_eq!(
            q("time to healthy by launch type").by,
            vec![Dim::LaunchType]
        );
        assert_eq!(q("crash loops by exit code").metric, Metric::Restarts);
        assert_eq!(q("crash loops by exit code").by, vec![Dim::ExitCode]);
        assert_eq!(q("exits 139").metric, Metric::Exit(139));
        assert_eq!(q("oom for api in prod").filters.len(), 2);
        assert_eq!(q("logs").metric, Metric::Logs(None));
        assert_eq!(q("logs by signature").by, vec![Dim::Signature]);
        assert_eq!(
            q("logs OOMKilled").metric,
            Metric::Logs(Some("OOMKilled".into()))
        );
    }

    #[test]
    fn windows() {
        let r = q("stops since 2026-11-01T10:00 until 2026-11-02");
        assert_eq!(
            r.window,
            Window::Range {
                from: Some(1_793_491_200_000_000 + 10 * 3_600_000_000),
                to: Some(1_793_491_200_000_000 + 2 * DAY)
            }
        );
        assert_eq!(
            q("stops last 90m").window,
            Window::Last(90 * MICROS_PER_MINUTE)
        );
        assert_eq!(q("stops past 2w").window, Window::Last(14 * DAY));
        assert!(parse("stops since 2026-11-02 until 2026-11-01").is_err());
        assert!(parse("stops last 0d").is_err());
        assert!(parse("stops last 99999999999d").is_err());
        assert!(parse("stops last 7 parsecs").is_err());
    }

    #[test]
    fn errors_point_at_the_word_and_suggest() {
        let e = parse("exit 137 by revison last 7d").unwrap_err();
        assert_eq!(e.span, 12..19);
        assert_eq!(e.column(), 13);
        assert_eq!(e.suggestion.as_deref(), Some("revision"));
        let e = parse("exti 137").unwrap_err();
        assert_eq!(e.suggestion.as_deref(), Some("exit"));
        let e = parse("exit by revision").unwrap_err();
        assert!(e.expected[0].contains("exit code"), "{e}");
        let e = parse("oom by service lst 7d").unwrap_err();
        assert_eq!(e.suggestion.as_deref(), Some("last"));
        let e = parse("oom service").unwrap_err();
        assert!(
            e.hint.as_deref().unwrap_or("").contains("by service"),
            "{e}"
        );
        let e = parse("oom by").unwrap_err();
        assert_eq!(e.span, 6..6);
        assert!(parse("oom last 7d last 1d").is_err());
        assert!(parse("oom where service").is_err());
        assert!(parse("").is_err());
    }

    mod never_panics {
        use proptest::prelude::*;

        use super::super::parse;
        use crate::ast::{CLAUSES, DIMS, METRICS};

        /// Words the grammar knows, plus numbers, dates, operators and junk,
        /// so generated input reaches deep into the parser.
        fn word() -> impl Strategy<Value = String> {
            let known: Vec<String> = METRICS
                .iter()
                .map(|(w, _)| *w)
                .chain(DIMS.iter().map(|(w, _)| *w))
                .chain(CLAUSES.iter().copied())
                .chain([
                    "7d",
                    "24h",
                    "0d",
                    "2026-11-19",
                    "2026-13-45",
                    "=",
                    "!=",
                    ",",
                    "\"",
                    "'",
                    "and",
                    "137",
                    "-1",
                    "99999999999",
                    "api:42",
                    "days",
                    "until",
                    "top",
                    "10",
                ])
                .map(str::to_owned)
                .collect();
            prop_oneof![
                3 => proptest::sample::select(known),
                1 => "\\PC{0,8}",
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4000))]

            #[test]
            fn on_word_soup(words in proptest::collection::vec(word(), 0..14)) {
                let text = words.join(" ");
                if let Err(e) = parse(&text) {
                    // Every error renders, and its span lies inside the text.
                    prop_assert!(e.span.end <= text.len() && e.span.start <= e.span.end);
                    let _ = e.to_string();
                }
            }

            #[test]
            fn on_any_text(text in "\\PC{0,64}") {
                if let Err(e) = parse(&text) {
                    prop_assert!(e.span.end <= text.len());
                    let _ = e.to_string();
                }
            }
        }
    }
}
