//! # ecs-query-lang: the ECS-aware query language
//!
//! `exit 137 by revision last 7d`. One module per stage: [`lexer`] (text ->
//! tokens with spans) -> [`parser`] (tokens -> [`ast::Query`], grammar in its
//! docs). Lowering to DataFusion plans and running them are `ecs-query`'s
//! (`ecs_query::lang::lower`); this crate has no query engine, so it is
//! cheap to build, to test and to fuzz (`fuzz/fuzz_targets/query_parser.rs`).

pub mod ast;
pub mod error;
pub mod lexer;
pub mod parser;

pub use ast::{Dim, Filter, Metric, Query, Window};
pub use error::ParseError;
pub use parser::parse;
