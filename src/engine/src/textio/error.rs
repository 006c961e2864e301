//! The one error type of the text/binary parsers.

/// Which SQLSTATE the adapter raises (pgvector's choice for each message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// 22P02
    InvalidTextRepresentation,
    /// 22003
    NumericValueOutOfRange,
    /// 22000
    DataException,
    /// 54000
    ProgramLimitExceeded,
    /// 08P01 (a binary message shorter than its header says)
    ProtocolViolation,
}

/// A rejected input: SQLSTATE class, the primary message, and an optional DETAIL line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextError {
    pub code: Code,
    pub message: String,
    pub detail: Option<&'static str>,
}

impl TextError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        TextError { code, message: message.into(), detail: None }
    }

    /// 22P02 `invalid input syntax for type <ty>: "<lit>"`.
    pub fn syntax(ty: &str, lit: &[u8], detail: Option<&'static str>) -> Self {
        let message = format!("invalid input syntax for type {ty}: \"{}\"", String::from_utf8_lossy(lit));
        TextError { code: Code::InvalidTextRepresentation, message, detail }
    }

    /// 22000 `expected <typmod> dimensions, not <dim>`.
    pub fn expected_dims(typmod: i32, dim: i64) -> Self {
        Self::new(Code::DataException, format!("expected {typmod} dimensions, not {dim}"))
    }

    /// 08P01 `insufficient data left in message` (pq_getmsg*'s error).
    pub fn short_message() -> Self {
        Self::new(Code::ProtocolViolation, "insufficient data left in message")
    }
}

impl std::fmt::Display for TextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TextError {}

/// Ok unless a typmod is set and differs from `dim`.
pub fn check_typmod(typmod: i32, dim: i64) -> Result<(), TextError> {
    if typmod != -1 && typmod as i64 != dim {
        return Err(TextError::expected_dims(typmod, dim));
    }
    Ok(())
}
