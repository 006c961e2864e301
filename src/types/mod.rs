//! SQL types: pgvector's `vector`, `halfvec`, `sparsevec` and distances on `bit`, byte-compatible
//! on disk and on the wire. One file per concern; the matching SQL is grouped the same way in
//! `sql/vector.sql` (vector) and `sql/vecmap--0.2.0--0.3.0.sql` (the others).
mod array;
pub mod bit;
pub mod halfvec;
pub mod halfvec_cast;
pub mod halfvec_io;
pub mod halfvec_ops;
pub mod sparsevec;
pub mod sparsevec_cast;
pub mod sparsevec_io;
pub mod sparsevec_ops;
pub mod vector;
pub mod vector_agg;
pub mod vector_binary;
pub mod vector_cast;
pub mod vector_distance;
pub mod vector_functions;
pub mod vector_io;
pub mod vector_ops;
pub mod vector_typmod;
pub mod wire;
