//! Errors of the query language: where (a span in the query), what was found,
//! what was expected, and a did-you-mean when a word is close to a known one.

use std::fmt;
use std::ops::Range;

/// A parse error (boxed: errors are rare, results are many).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(Box<Details>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Details {
    pub query: String,
    /// Byte range of the offending text (empty at the end of the query).
    pub span: Range<usize>,
    /// What was found, e.g. `unknown dimension "revison"`.
    pub message: String,
    pub expected: Vec<String>,
    pub suggestion: Option<String>,
    pub hint: Option<String>,
}

impl ParseError {
    pub fn new(query: &str, span: Range<usize>, message: String) -> ParseError {
        ParseError(Box::new(Details {
            query: query.to_owned(),
            span,
            message,
            expected: Vec::new(),
            suggestion: None,
            hint: None,
        }))
    }

    pub fn expected<S: Into<String>>(mut self, what: impl IntoIterator<Item = S>) -> Self {
        self.0.expected = what.into_iter().map(Into::into).collect();
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.0.hint = Some(hint.into());
        self
    }

    /// Suggests the closest of `candidates` to `word` when it is close enough
    /// to be a typo (Jaro-Winkler similarity, the measure clap uses for
    /// subcommands).
    pub fn did_you_mean<'a>(
        mut self,
        word: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let word = word.to_lowercase();
        self.0.suggestion = candidates
            .into_iter()
            .map(|c| (strsim::jaro_winkler(&word, c), c))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, c)| c.to_owned());
        self
    }

    /// 1-based column of the span's start, counted in characters.
    pub fn column(&self) -> usize {
        let start = self.span.start.min(self.query.len());
        self.query
            .get(..start)
            .map_or(start, |prefix| prefix.chars().count())
            + 1
    }
}

impl std::ops::Deref for ParseError {
    type Target = Details;

    fn deref(&self) -> &Details {
        &self.0
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} at column {}", self.message, self.column())?;
        writeln!(f, "  {}", self.query)?;
        let width = self
            .query
            .get(self.span.clone())
            .map_or(1, |s| s.chars().count().max(1));
        write!(
            f,
            "  {}{}",
            " ".repeat(self.column() - 1),
            "^".repeat(width)
        )?;
        if !self.expected.is_empty() {
            write!(f, "\n  expected {}", self.expected.join(", "))?;
        }
        if let Some(s) = &self.suggestion {
            write!(f, "\n  did you mean \"{s}\"?")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}
