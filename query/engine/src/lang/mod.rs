//! The ECS-aware query language: `exit 137 by revision last 7d`.
//!
//! Lexer, parser and AST are the `ecs-query-lang` crate (no DataFusion, so
//! they can be fuzzed on their own); [`lower`] turns a parsed query into a
//! DataFusion logical plan over [`crate::summary`]; [`crate::ask`] plans a
//! question from its text; running and rendering are the caller's.

pub use ecs_query_lang::{
    Dim, Filter, Metric, ParseError, Query, Window, ast, error, lexer, parse, parser,
};

pub mod lower;
