//! pgvector's text and binary forms of the SQL types, parsed without Postgres (so they can be
//! fuzzed): each parser returns `Result<_, TextError>` with pgvector's message and SQLSTATE
//! class; the extension only raises the error.
pub mod error;
pub mod halfvec;
mod scan;
pub mod sparsevec;

pub use error::{Code, TextError};

