//! Lexer: text -> tokens with byte spans.
//!
//! Words are runs of anything but whitespace, quotes, `,`, `=` and `!`, so
//! `7d`, `2026-11-01T10:00`, `api:42`, `my-service` and `time-to-healthy`
//! each stay one token; the parser decides what a word means.

use super::error::ParseError;

/// Longest query accepted, in bytes: a question, not a program.
pub const MAX_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Word(String),
    /// A quoted string, quotes removed (`"..."` or `'...'`, `\"` and `\\` escapes).
    Str(String),
    Comma,
    Eq,
    NotEq,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    /// Byte range in the query text.
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The word, lowercased, with `-` and `_` read as spaces: how keywords
    /// are compared (`Time-To-Healthy` = `time to healthy`).
    pub fn keyword(&self) -> Option<String> {
        match &self.tok {
            Tok::Word(w) => Some(w.to_lowercase().replace(['-', '_'], " ")),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match &self.tok {
            Tok::Word(w) => format!("{w:?}"),
            Tok::Str(s) => format!("the string {s:?}"),
            Tok::Comma => "\",\"".into(),
            Tok::Eq => "\"=\"".into(),
            Tok::NotEq => "\"!=\"".into(),
        }
    }
}

pub fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    if text.len() > MAX_LEN {
        // The caret starts at the first character that does not fit.
        let start = (0..=MAX_LEN)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        return Err(ParseError::new(
            text,
            start..text.len(),
            format!("the query is longer than {MAX_LEN} bytes"),
        )
        .hint("ask one question at a time, or use `ecs-query sql` for long queries"));
    }
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let single = |tok| Token {
            tok,
            start,
            end: start + c.len_utf8(),
        };
        match c {
            ',' => {
                chars.next();
                tokens.push(single(Tok::Comma));
            }
            '=' => {
                chars.next();
                tokens.push(single(Tok::Eq));
            }
            '!' => {
                chars.next();
                match chars.peek() {
                    Some(&(i, '=')) => {
                        chars.next();
                        tokens.push(Token {
                            tok: Tok::NotEq,
                            start,
                            end: i + 1,
                        });
                    }
                    _ => {
                        return Err(ParseError::new(
                            text,
                            start..start + 1,
                            "a lone \"!\"".to_owned(),
                        )
                        .expected(["\"!=\""]));
                    }
                }
            }
            '"' | '\'' => {
                chars.next();
                let mut value = String::new();
                let mut end = None;
                while let Some((i, ch)) = chars.next() {
                    match ch {
                        '\\' => match chars.next() {
                            Some((_, escaped)) => value.push(escaped),
                            None => break,
                        },
                        q if q == c => {
                            end = Some(i + 1);
                            break;
                        }
                        other => value.push(other),
                    }
                }
                let Some(end) = end else {
                    return Err(ParseError::new(
                        text,
                        start..text.len(),
                        "a string that never ends".to_owned(),
                    )
                    .expected([if c == '"' {
                        "a closing \""
                    } else {
                        "a closing '"
                    }]));
                };
                tokens.push(Token {
                    tok: Tok::Str(value),
                    start,
                    end,
                });
            }
            _ => {
                let mut end = start;
                while let Some(&(i, ch)) = chars.peek() {
                    if ch.is_whitespace() || matches!(ch, ',' | '=' | '!' | '"' | '\'') {
                        break;
                    }
                    end = i + ch.len_utf8();
                    chars.next();
                }
                tokens.push(Token {
                    tok: Tok::Word(text[start..end].to_owned()),
                    start,
                    end,
                });
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        lex(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn words_keep_dates_durations_and_names_whole() {
        assert_eq!(
            toks("logs \"heap out\" since 2026-11-01T10:00 where svc=my-api,rev!=api:42"),
            vec![
                Tok::Word("logs".into()),
                Tok::Str("heap out".into()),
                Tok::Word("since".into()),
                Tok::Word("2026-11-01T10:00".into()),
                Tok::Word("where".into()),
                Tok::Word("svc".into()),
                Tok::Eq,
                Tok::Word("my-api".into()),
                Tok::Comma,
                Tok::Word("rev".into()),
                Tok::NotEq,
                Tok::Word("api:42".into()),
            ]
        );
    }

    #[test]
    fn strings_take_escapes_and_either_quote() {
        assert_eq!(
            toks(r#"'it''s' "say \"hi\"""#),
            vec![
                Tok::Str("it".into()),
                Tok::Str("s".into()),
                Tok::Str("say \"hi\"".into())
            ]
        );
    }

    #[test]
    fn spans_are_byte_ranges() {
        let t = lex("  exit  137").unwrap();
        assert_eq!((t[0].start, t[0].end), (2, 6));
        assert_eq!((t[1].start, t[1].end), (8, 11));
    }

    #[test]
    fn unterminated_string_and_lone_bang_are_errors() {
        assert!(lex("logs \"heap").is_err());
        assert!(lex("where service ! api").is_err());
        assert!(lex(&"x".repeat(MAX_LEN + 1)).is_err());
    }

    /// Found by the `query_parser` fuzz target: a query over the limit whose
    /// byte 4096 falls inside a character got a span that split it.
    #[test]
    fn an_overlong_query_is_cut_on_a_character_boundary() {
        let text = format!("{}é{}", "x".repeat(MAX_LEN - 1), "y".repeat(10));
        let e = lex(&text).unwrap_err();
        assert_eq!(e.span, MAX_LEN - 1..text.len());
        assert!(text.is_char_boundary(e.span.start));
        assert!(e.to_string().contains("longer than"));
    }
}
