//! The query language, any text: lexer and parser (a query or an error with
//! a span inside the text), the window grammar of `diagnose`, and the time
//! parser of `--since`/`--until`/`--now`.
#![no_main]

use ecs_query_lang::parser::{parse_time, parse_window};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = ecs_query_lang::parse(text) {
        // The caret points into the query, on character boundaries.
        assert!(
            e.span.start <= e.span.end && e.span.end <= text.len(),
            "{e:?}"
        );
        assert!(text.is_char_boundary(e.span.start) && text.is_char_boundary(e.span.end));
        let _ = e.to_string();
    }
    let _ = parse_window(text);
    let _ = parse_time(text, true);
});
