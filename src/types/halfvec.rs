//! The `halfvec` varlena: `int32 vl_len_; int16 dim; int16 unused; binary16 x[dim]`, exactly
//! pgvector's layout. Elements are handled as IEEE binary16 bit patterns (`u16`).
use super::wire::{check, float4_text};
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;
use vecmap_engine::textio::halfvec as hv;

const HEADER: usize = 8;

/// A detoasted `halfvec` argument, borrowed for the duration of the call.
pub struct HalfRef<'a> {
    pub data: &'a [u16],
}

impl<'a> HalfRef<'a> {
    /// # Safety
    /// `datum` must be a non-null `halfvec` datum.
    pub unsafe fn from_datum(datum: pg_sys::Datum) -> HalfRef<'a> {
        // SAFETY: a varlena of our type; detoast returns an aligned 4-byte header.
        unsafe {
            let p = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *const u8;
            let dim = (*(p.add(4) as *const i16)).max(0) as usize;
            HalfRef { data: std::slice::from_raw_parts(p.add(HEADER) as *const u16, dim) }
        }
    }

    /// # Safety
    /// `fcinfo` must be valid and argument `n` a non-null `halfvec`.
    pub unsafe fn arg(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> HalfRef<'a> {
        // SAFETY: forwarded from the caller.
        unsafe { Self::from_datum(arg(fcinfo, n)) }
    }

    pub fn dim(&self) -> usize {
        self.data.len()
    }

    /// Element `i` widened to f32.
    pub fn get(&self, i: usize) -> f32 {
        hv::to_f32(self.data[i])
    }
}

/// The two `halfvec` arguments of a STRICT binary function.
///
/// # Safety
/// `fcinfo` must carry two non-null `halfvec` arguments.
pub unsafe fn half_pair<'a>(fcinfo: pg_sys::FunctionCallInfo) -> (HalfRef<'a>, HalfRef<'a>) {
    // SAFETY: forwarded from the caller.
    unsafe { (HalfRef::arg(fcinfo, 0), HalfRef::arg(fcinfo, 1)) }
}

/// A zeroed `halfvec` of `dim` elements in the current memory context: (datum, elements).
pub fn new_halfvec<'a>(dim: usize) -> (pg_sys::Datum, &'a mut [u16]) {
    let size = HEADER + 2 * dim;
    // SAFETY: palloc0 returns zeroed memory of `size` bytes or raises an ERROR.
    unsafe {
        let p = pg_sys::palloc0(size) as *mut u8;
        pgrx::set_varsize_4b(p as *mut pg_sys::varlena, size as i32);
        *(p.add(4) as *mut i16) = dim as i16;
        (pg_sys::Datum::from(p), std::slice::from_raw_parts_mut(p.add(HEADER) as *mut u16, dim))
    }
}

/// ERROR unless 1 ≤ dim ≤ 16000 (halfvec's messages).
pub fn check_dim(dim: usize) {
    check(hv::check_dim(dim as i64));
}

/// ERROR on NaN / ±Inf.
pub fn check_element(h: u16) {
    check(hv::check_element(h));
}

/// ERROR "different halfvec dimensions 3 and 2".
pub fn check_same_dims(a: &HalfRef, b: &HalfRef) {
    if a.dim() != b.dim() {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("different halfvec dimensions {} and {}", a.dim(), b.dim())
        );
    }
}

/// f32 → binary16 like pgvector's Float4ToHalf: ERROR 22003 "\"70000\" is out of range for
/// type halfvec" when a finite value overflows; NaN/±Inf pass through (callers check).
pub fn to_half(v: f32) -> u16 {
    let h = hv::from_f32(v);
    if hv::is_inf(h) && !v.is_infinite() {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
            format!("\"{}\" is out of range for type halfvec", float4_text(v))
        );
    }
    h
}
