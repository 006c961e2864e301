//! SQL types: pgvector's `vector`, byte-compatible on disk and on the wire.
//! One file per concern; the matching SQL is grouped the same way in `sql/vector.sql`.
mod array;
pub mod vector;
pub mod vector_agg;
pub mod vector_binary;
pub mod vector_cast;
pub mod vector_distance;
pub mod vector_functions;
pub mod vector_io;
pub mod vector_ops;
pub mod vector_typmod;
