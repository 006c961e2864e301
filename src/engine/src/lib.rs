//! vecmap engine: everything about the index that does not need Postgres.
//!
//! - [`kernels`]: SIMD distance kernels (f32 and int8), runtime-dispatched.
//! - [`quant`]: scalar int8 quantizer.
//! - [`sidecar`]: the memory-mapped sidecar file (format, mapping, growth).
//! - [`hnsw`]: the HNSW graph (Malkov & Yashunin 2016) over a sidecar.
pub mod error;
pub mod hnsw;
pub mod kernels;
pub mod metric;
pub mod quant;
pub mod sidecar;

pub use error::{Error, Result};
pub use metric::Metric;
