//! The sidecar: a derived, rebuildable cache of the index log, memory-mapped by every backend.
pub mod file;
pub mod format;

pub use file::{lock_path, Identity, Region, RegionKind, ResidentBytes, Sidecar, WriterLock};
pub use format::{NodeInfo, State, NO_NODE};
