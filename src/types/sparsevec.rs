//! The `sparsevec` varlena: `int32 vl_len_; int32 dim; int32 nnz; int32 unused;
//! int32 indices[nnz]; float4 values[nnz]` — pgvector's layout (0-based ascending indices,
//! no stored zeros).
use super::wire::check;
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;
use vecmap_engine::textio::sparsevec as sv;

const HEADER: usize = 16;

/// A detoasted `sparsevec` argument, borrowed for the duration of the call.
pub struct SparseRef<'a> {
    pub dim: i32,
    pub indices: &'a [i32],
    pub values: &'a [f32],
}

impl<'a> SparseRef<'a> {
    /// # Safety
    /// `datum` must be a non-null `sparsevec` datum.
    pub unsafe fn from_datum(datum: pg_sys::Datum) -> SparseRef<'a> {
        // SAFETY: a varlena of our type; detoast returns an aligned 4-byte header; nnz
        // indices then nnz values follow the 16-byte header.
        unsafe {
            let p = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *const u8;
            let dim = *(p.add(4) as *const i32);
            let nnz = (*(p.add(8) as *const i32)).max(0) as usize;
            let indices = std::slice::from_raw_parts(p.add(HEADER) as *const i32, nnz);
            let values = std::slice::from_raw_parts(p.add(HEADER + 4 * nnz) as *const f32, nnz);
            SparseRef { dim, indices, values }
        }
    }

    /// # Safety
    /// `fcinfo` must be valid and argument `n` a non-null `sparsevec`.
    pub unsafe fn arg(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> SparseRef<'a> {
        // SAFETY: forwarded from the caller.
        unsafe { Self::from_datum(arg(fcinfo, n)) }
    }
}

/// The two `sparsevec` arguments of a STRICT binary function.
///
/// # Safety
/// `fcinfo` must carry two non-null `sparsevec` arguments.
pub unsafe fn sparse_pair<'a>(fcinfo: pg_sys::FunctionCallInfo) -> (SparseRef<'a>, SparseRef<'a>) {
    // SAFETY: forwarded from the caller.
    unsafe { (SparseRef::arg(fcinfo, 0), SparseRef::arg(fcinfo, 1)) }
}

/// A zeroed `sparsevec` with `nnz` slots: (datum, indices, values).
pub fn new_sparsevec<'a>(dim: i32, nnz: usize) -> (pg_sys::Datum, &'a mut [i32], &'a mut [f32]) {
    let size = HEADER + 8 * nnz;
    // SAFETY: palloc0 returns zeroed memory of `size` bytes or raises an ERROR.
    unsafe {
        let p = pg_sys::palloc0(size) as *mut u8;
        pgrx::set_varsize_4b(p as *mut pg_sys::varlena, size as i32);
        *(p.add(4) as *mut i32) = dim;
        *(p.add(8) as *mut i32) = nnz as i32;
        let indices = std::slice::from_raw_parts_mut(p.add(HEADER) as *mut i32, nnz);
        let values = std::slice::from_raw_parts_mut(p.add(HEADER + 4 * nnz) as *mut f32, nnz);
        (pg_sys::Datum::from(p), indices, values)
    }
}

/// A `sparsevec` datum from the non-zero `(index, value)` pairs of a dense sequence.
pub fn sparse_from_dense(dim: usize, values: impl Iterator<Item = f32> + Clone) -> pg_sys::Datum {
    let nnz = values.clone().filter(|v| *v != 0.0).count();
    check(sv::check_nnz(nnz as i64, dim as i64));
    let (datum, idx, val) = new_sparsevec(dim as i32, nnz);
    for (k, (i, v)) in values.enumerate().filter(|(_, v)| *v != 0.0).enumerate() {
        idx[k] = i as i32;
        val[k] = v;
    }
    datum
}

/// ERROR unless 1 ≤ dim ≤ 10⁹ (sparsevec's messages).
pub fn check_dim(dim: i64) {
    check(sv::check_dim(dim));
}

/// ERROR "different sparsevec dimensions 3 and 2".
pub fn check_same_dims(a: &SparseRef, b: &SparseRef) {
    if a.dim != b.dim {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("different sparsevec dimensions {} and {}", a.dim, b.dim)
        );
    }
}
