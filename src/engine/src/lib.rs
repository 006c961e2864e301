//! vecmap engine: everything about the index that does not need Postgres.
//!
//! - [`kernels`]: SIMD distance kernels (f32 and int8), runtime-dispatched.
//! - [`quant`]: scalar int8 quantizer.
//! - [`sidecar`]: the memory-mapped sidecar file (format, mapping, growth).
//! - [`hnsw`]: the HNSW graph (Malkov & Yashunin 2016) over a sidecar.
//! - [`stats`]: looking inside a sidecar (graph shape, arenas, residency, prewarm).
//! - [`tune`]: recall calibration (ef sweep, Pareto curve, choosing ef for a target).
//! - [`textio`]: text and binary forms of the SQL types and typmods (pure, fuzzable parsers).
//! - [`options`]: index build options and their checks.
//! - [`fuzz`]: the fuzz targets' entry points (also replayed by `tests/fuzz_corpus.rs`).
pub mod error;
pub mod fuzz;
pub mod hnsw;
pub mod kernels;
pub mod metric;
pub mod options;
pub mod quant;
pub mod sidecar;
pub mod stats;
pub mod textio;
#[cfg(test)]
mod testutil;
pub mod tune;

pub use error::{Error, Result};
pub use metric::Metric;
