//! The ECS-aware query language: `exit 137 by revision last 7d`.
//!
//! One module per stage: [`lexer`] (text -> tokens with spans) ->
//! [`parser`] (tokens -> [`ast::Query`], grammar in its docs) -> [`lower`]
//! (query -> DataFusion logical plan over [`crate::summary`]) ; execution and
//! rendering are the CLI's ([`crate::ask`]).

pub mod ast;
pub mod error;
pub mod lexer;
pub mod lower;
pub mod parser;

pub use ast::{Dim, Filter, Metric, Query, Window};
pub use error::ParseError;
pub use parser::parse;
