//! pgvector's text and binary forms of the SQL types and their type modifiers, parsed without
//! Postgres: every function returns a `Result`; the adapter (`src/types/`) turns the error into
//! pgvector's ERROR message and SQLSTATE. Being pgrx-free, these are what the fuzz targets
//! (`fuzz/`) and their corpus replay test drive.
pub mod error;
pub mod halfvec;
mod scan;
pub mod sparsevec;
pub mod vector;

pub use error::{Code, TextError};
