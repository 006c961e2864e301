//! The `vector` varlena: `int32 vl_len_; int16 dim; int16 unused; float4 x[dim]`,
//! exactly pgvector's layout so values, COPY BINARY and clients interoperate.
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::CStr;
use vecmap_engine::textio::vector as textio;
pub use vecmap_engine::textio::vector::{VectorError, VECTOR_MAX_DIM};

#[repr(C)]
pub struct VectorHeader {
    vl_len: i32,
    pub dim: i16,
    pub unused: i16,
}

const HEADER: usize = std::mem::size_of::<VectorHeader>();

/// A detoasted `vector` argument, borrowed for the duration of the call.
pub struct VectorRef<'a> {
    pub data: &'a [f32],
}

impl<'a> VectorRef<'a> {
    /// Detoasts `datum` (palloc'd copy when compressed or external).
    ///
    /// # Safety
    /// `datum` must be a non-null `vector` datum.
    pub unsafe fn from_datum(datum: pg_sys::Datum) -> VectorRef<'a> {
        // SAFETY: the datum is a varlena of our type; detoast returns an aligned 4-byte header.
        unsafe {
            let p = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *const VectorHeader;
            let dim = (*p).dim.max(0) as usize;
            let data = std::slice::from_raw_parts((p as *const u8).add(HEADER) as *const f32, dim);
            VectorRef { data }
        }
    }

    /// Argument `n` of a STRICT function declared with a `vector` there.
    ///
    /// # Safety
    /// `fcinfo` must be valid and argument `n` a non-null `vector`.
    pub unsafe fn arg(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> VectorRef<'a> {
        // SAFETY: forwarded from the caller.
        unsafe { Self::from_datum(arg(fcinfo, n)) }
    }

    pub fn dim(&self) -> usize {
        self.data.len()
    }
}

/// The two `vector` arguments of a STRICT binary function.
///
/// # Safety
/// `fcinfo` must carry two non-null `vector` arguments.
pub unsafe fn vector_pair<'a>(fcinfo: pg_sys::FunctionCallInfo) -> (VectorRef<'a>, VectorRef<'a>) {
    // SAFETY: forwarded from the caller.
    unsafe { (VectorRef::arg(fcinfo, 0), VectorRef::arg(fcinfo, 1)) }
}

/// Allocates a zeroed `vector` of `dim` elements in the current memory context and
/// returns (datum, mutable elements).
pub fn new_vector<'a>(dim: usize) -> (pg_sys::Datum, &'a mut [f32]) {
    let size = HEADER + 4 * dim;
    // SAFETY: palloc0 returns zeroed memory of `size` bytes or raises an ERROR.
    unsafe {
        let p = pg_sys::palloc0(size) as *mut VectorHeader;
        pgrx::set_varsize_4b(p as *mut pg_sys::varlena, size as i32);
        (*p).dim = dim as i16;
        let data = std::slice::from_raw_parts_mut((p as *mut u8).add(HEADER) as *mut f32, dim);
        (pg_sys::Datum::from(p), data)
    }
}

/// Builds a `vector` datum from elements.
pub fn vector_datum(values: &[f32]) -> pg_sys::Datum {
    let (d, out) = new_vector(values.len());
    out.copy_from_slice(values);
    d
}

/// Raises pgvector's ERROR (message and SQLSTATE) for a rejected `vector` input; `lit` is
/// the text literal, quoted in syntax errors.
pub fn raise_vector_error(e: VectorError, lit: Option<&CStr>) -> ! {
    use PgSqlErrorCode::*;
    let (code, msg) = match e {
        VectorError::Syntax { detail } => {
            let lit = lit.map(|l| l.to_string_lossy().into_owned()).unwrap_or_default();
            let msg = format!("invalid input syntax for type vector: \"{lit}\"");
            match detail {
                Some(d) => {
                    ereport!(ERROR, ERRCODE_INVALID_TEXT_REPRESENTATION, msg, d);
                }
                None => {
                    ereport!(ERROR, ERRCODE_INVALID_TEXT_REPRESENTATION, msg);
                }
            }
        }
        VectorError::OutOfRange { number } => (ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, format!("\"{number}\" is out of range for type vector")),
        VectorError::NoDimensions => (ERRCODE_DATA_EXCEPTION, "vector must have at least 1 dimension".into()),
        VectorError::TooManyDimensions => (ERRCODE_PROGRAM_LIMIT_EXCEEDED, format!("vector cannot have more than {VECTOR_MAX_DIM} dimensions")),
        VectorError::NaN => (ERRCODE_DATA_EXCEPTION, "NaN not allowed in vector".into()),
        VectorError::Infinite => (ERRCODE_DATA_EXCEPTION, "infinite value not allowed in vector".into()),
        VectorError::DimensionMismatch { expected, found } => (ERRCODE_DATA_EXCEPTION, format!("expected {expected} dimensions, not {found}")),
        VectorError::UnusedNotZero(n) => (ERRCODE_DATA_EXCEPTION, format!("expected unused to be 0, not {n}")),
        VectorError::ShortMessage => (ERRCODE_PROTOCOL_VIOLATION, "insufficient data left in message".into()),
        VectorError::InvalidTypmod => (ERRCODE_INVALID_PARAMETER_VALUE, "invalid type modifier".into()),
        VectorError::TypmodTooSmall => (ERRCODE_INVALID_PARAMETER_VALUE, "dimensions for type vector must be at least 1".into()),
        VectorError::TypmodTooLarge => (ERRCODE_INVALID_PARAMETER_VALUE, format!("dimensions for type vector cannot exceed {VECTOR_MAX_DIM}")),
    };
    ereport!(ERROR, code, msg);
}

/// ERROR unless 1 ≤ dim ≤ VECTOR_MAX_DIM (pgvector's messages).
pub fn check_dim(dim: usize) {
    textio::check_dim(dim).unwrap_or_else(|e| raise_vector_error(e, None));
}

/// ERROR when a typmod is set and differs from `dim`: "expected 3 dimensions, not 2".
pub fn check_expected_dim(typmod: i32, dim: usize) {
    textio::check_expected_dim(typmod, dim).unwrap_or_else(|e| raise_vector_error(e, None));
}

/// ERROR unless both operands have the same dimension: "different vector dimensions 3 and 2".
pub fn check_same_dims(a: &VectorRef, b: &VectorRef) {
    if a.dim() != b.dim() {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("different vector dimensions {} and {}", a.dim(), b.dim())
        );
    }
}

/// ERROR on NaN or ±Infinity elements.
pub fn check_element(v: f32) {
    textio::check_element(v).unwrap_or_else(|e| raise_vector_error(e, None));
}

/// Postgres' float overflow ERROR: 22003 "value out of range: overflow".
pub fn float_overflow_error() -> ! {
    ereport!(ERROR, PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "value out of range: overflow");
}

/// Postgres' float underflow ERROR: 22003 "value out of range: underflow".
pub fn float_underflow_error() -> ! {
    ereport!(ERROR, PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "value out of range: underflow");
}

/// Float8 result datum (float8 is pass-by-value on 64-bit builds).
pub fn float8_datum(v: f64) -> pg_sys::Datum {
    pg_sys::Datum::from(v.to_bits())
}
