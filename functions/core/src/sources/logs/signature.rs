//! Crash and memory signatures of application log lines (`logs.signature`).
//!
//! A signature names how a process said it was dying (a heap out of memory,
//! a panic, a SIGTERM), so a post-mortem can tell an OOM from a crash from a
//! scale-in without reading the lines. The query side reads the column back
//! through [`Signature`], never through string literals.

use std::cell::RefCell;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// A known crash or memory line. [`Signature::as_str`] is what the lake stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signature {
    NodeHeapOom,
    JavaOom,
    PythonMemoryError,
    GoOom,
    RustPanic,
    Segfault,
    Sigterm,
    Killed,
}

impl Signature {
    pub const ALL: [Signature; 8] = [
        Self::NodeHeapOom,
        Self::JavaOom,
        Self::PythonMemoryError,
        Self::GoOom,
        Self::RustPanic,
        Self::Segfault,
        Self::Sigterm,
        Self::Killed,
    ];

    /// The stable name stored in `logs.signature`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NodeHeapOom => "node_heap_oom",
            Self::JavaOom => "java_oom",
            Self::PythonMemoryError => "python_memory_error",
            Self::GoOom => "go_oom",
            Self::RustPanic => "rust_panic",
            Self::Segfault => "segfault",
            Self::Sigterm => "sigterm",
            Self::Killed => "killed",
        }
    }
}

crate::stored_name!(Signature, "logs.signature");

impl Signature {
    /// The runtime ran out of its own heap (not the kernel's OOM kill).
    pub const RUNTIME_OOM: [Signature; 4] = [
        Self::NodeHeapOom,
        Self::JavaOom,
        Self::PythonMemoryError,
        Self::GoOom,
    ];

    pub fn is_runtime_oom(self) -> bool {
        Self::RUNTIME_OOM.contains(&self)
    }
}

/// The lines each signature is recognized by. Matched ASCII
/// case-insensitively; the leftmost match wins.
const PATTERNS: &[(&str, Signature)] = &[
    ("JavaScript heap out of memory", Signature::NodeHeapOom),
    ("Reached heap limit", Signature::NodeHeapOom),
    ("OutOfMemoryError", Signature::JavaOom),
    ("MemoryError", Signature::PythonMemoryError),
    ("runtime: out of memory", Signature::GoOom),
    ("panicked at", Signature::RustPanic),
    ("Segmentation fault", Signature::Segfault),
    ("SIGSEGV", Signature::Segfault),
    ("SIGTERM", Signature::Sigterm),
    ("graceful shutdown", Signature::Sigterm),
    ("gracefully shutting down", Signature::Sigterm),
    ("shutting down gracefully", Signature::Sigterm),
    ("Killed", Signature::Killed),
];

/// The patterns in lower case, matched against the line in lower case:
/// the same leftmost-first, ASCII case-insensitive matches as matching the
/// line itself case-insensitively, but case-sensitive patterns let the
/// automaton use its SIMD prefilter (Teddy), which skips the bytes no
/// pattern starts at; a case-insensitive DFA steps through every byte (3.4x
/// the instructions per line, bench/RESULTS.md, issue 21).
static MATCHER: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostFirst)
        .build(PATTERNS.iter().map(|(p, _)| p.to_ascii_lowercase()))
        .ok()
});

thread_local! {
    /// The line being scanned, lower-cased; reused from line to line.
    static LOWER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The literal phrases the signatures are found by, as written here, for a
/// server-side filter that narrows a log group to its candidate crash lines
/// (e.g. a CloudWatch Logs filter pattern `?"phrase" ?"phrase"`); each line
/// it selects is still judged by [`signature`]. [`signature`] ignores case
/// and such a filter may not: a line with other case (`segmentation fault`)
/// is then not selected.
pub fn phrases() -> impl Iterator<Item = &'static str> {
    PATTERNS.iter().map(|(p, _)| *p)
}

/// The crash or memory signature of a log line, if it is a known one.
///
/// `Killed` counts only as the shell reports a SIGKILLed child: the whole line,
/// or `... <pid> Killed ...` (`/app/run.sh: line 3:    7 Killed    node app.js`),
/// case-sensitive, so "killed 3 idle connections" is not one.
pub fn signature(message: &str) -> Option<Signature> {
    let matcher = MATCHER.as_ref()?;
    LOWER.with_borrow_mut(|lower| {
        lower.clear();
        lower.extend(message.bytes().map(|b| b.to_ascii_lowercase()));
        // Lower-casing keeps every byte where it was (only ASCII letters
        // change), so a match's offsets are the line's, on char boundaries.
        matcher
            .find_iter(&lower[..])
            .find_map(|m| judge(message, m))
    })
}

/// The signature a pattern match stands for, once `Killed` is checked.
fn judge(message: &str, m: aho_corasick::Match) -> Option<Signature> {
    let (_, found) = PATTERNS[m.pattern().as_usize()];
    if found != Signature::Killed {
        return Some(found);
    }
    let before = &message[..m.start()];
    let after = &message[m.end()..];
    let exact = &message[m.start()..m.end()] == "Killed";
    let word_end = after.is_empty() || after.starts_with(char::is_whitespace);
    let whole_line = before.trim().is_empty() && after.trim().is_empty();
    let after_pid = before.ends_with(char::is_whitespace)
        && before
            .split_whitespace()
            .next_back()
            .is_some_and(|w| w.bytes().all(|c| c.is_ascii_digit()));
    (exact && word_end && (whole_line || after_pid)).then_some(Signature::Killed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_signatures() {
        let cases = [
            (
                "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
                Some("node_heap_oom"),
            ),
            (
                "<--- JS stacktrace ---> FATAL ERROR: Ineffective mark-compacts near heap limit Allocation failed - JavaScript heap out of memory",
                Some("node_heap_oom"),
            ),
            (
                "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space",
                Some("java_oom"),
            ),
            ("MemoryError", Some("python_memory_error")),
            ("fatal error: runtime: out of memory", Some("go_oom")),
            (
                "thread 'main' panicked at src/main.rs:3:5:\nindex out of bounds",
                Some("rust_panic"),
            ),
            ("Killed", Some("killed")),
            (
                "/app/run.sh: line 3:     7 Killed                  node server.js",
                Some("killed"),
            ),
            ("killed 3 idle connections", None),
            ("Killed 3 idle connections", None),
            ("Segmentation fault (core dumped)", Some("segfault")),
            ("signal SIGSEGV: segmentation violation", Some("segfault")),
            ("Received SIGTERM, shutting down", Some("sigterm")),
            ("Starting graceful shutdown", Some("sigterm")),
            ("GET /health 200", None),
            // Any ASCII case, and multi-byte characters before the match.
            ("SEGMENTATION FAULT", Some("segfault")),
            ("jAvAsCrIpT HeAp OuT oF mEmOrY", Some("node_heap_oom")),
            (
                "Größe überschritten: java.lang.OutOfMemoryError",
                Some("java_oom"),
            ),
            ("größe 7 Killed node", Some("killed")),
            ("größe 7 KILLED node", None),
            ("ﬁ SIGTERM", Some("sigterm")),
        ];
        for (line, want) in cases {
            assert_eq!(signature(line).map(Signature::as_str), want, "{line}");
        }
    }

    #[test]
    fn names_round_trip_and_every_signature_has_a_pattern() {
        for s in Signature::ALL {
            assert_eq!(s.as_str().parse::<Signature>(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
            assert!(PATTERNS.iter().any(|&(_, p)| p == s), "{s} has no pattern");
        }
        let e = "oom".parse::<Signature>().unwrap_err();
        assert_eq!(e.to_string(), "\"oom\" is not a known logs.signature");
    }

    #[test]
    fn stored_names_are_the_documented_ones() {
        // The column's documentation (schema::logs) lists these names: the
        // read side's contract.
        let doc = crate::schema::logs::COLUMNS
            .iter()
            .find(|c| c.name == "signature")
            .map(|c| c.doc)
            .unwrap_or_default();
        for s in Signature::ALL {
            assert!(doc.contains(s.as_str()), "{s} is not in {doc:?}");
        }
    }
}
