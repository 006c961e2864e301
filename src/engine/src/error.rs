//! The engine's one error type; the Postgres adapter maps each kind to an SQLSTATE.
use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The sidecar exists but cannot be trusted (bad magic, checksum, geometry, identity).
    /// The adapter answers with a WARNING and a rebuild from the log.
    #[error("sidecar {path} is unusable: {reason}")]
    Corrupt { path: String, reason: String },
    /// The sidecar was written by another format version (rebuild, not an error to users).
    #[error("sidecar {path} has format version {found}, expected {expected}")]
    Version { path: String, found: u32, expected: u32 },
    /// No space left while growing the sidecar (ENOSPC / EDQUOT from fallocate).
    #[error("could not extend vecmap sidecar {path} to {bytes} bytes: {source}")]
    DiskFull { path: String, bytes: u64, source: io::Error },
    #[error("vecmap sidecar {path}: {source}")]
    Io { path: String, source: io::Error },
    /// A parameter outside what the format supports (dims, m, capacity).
    #[error("{0}")]
    Invalid(String),
    /// The caller asked to stop (query cancel during a build or batch).
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(path: &std::path::Path, source: io::Error) -> Self {
        Error::Io { path: path.display().to_string(), source }
    }
    pub fn corrupt(path: &std::path::Path, reason: impl Into<String>) -> Self {
        Error::Corrupt { path: path.display().to_string(), reason: reason.into() }
    }
    /// True when the right answer is "rebuild the sidecar from the log".
    pub fn needs_rebuild(&self) -> bool {
        matches!(self, Error::Corrupt { .. } | Error::Version { .. })
            || matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}
