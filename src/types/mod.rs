//! SQL types: pgvector's `vector`, byte-compatible on disk and on the wire.
pub mod vector;
pub mod vector_io;
