//! Parsing and validating SQL type input without Postgres: text literals, binary wire
//! messages and type modifiers. Every function returns a `Result`; the adapter (`src/types/`)
//! turns the error into pgvector's ERROR message and SQLSTATE. Being pgrx-free, these are the
//! entry points the fuzz targets (`fuzz/`) and their corpus replay test drive.
pub mod vector;
