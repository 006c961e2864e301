//! Casts to and from `sparsevec`: `vector` ↔ `sparsevec`, `halfvec` ↔ `sparsevec`, and
//! `integer[]`/`real[]`/`double precision[]`/`numeric[]` → `sparsevec` (typmod respected).
use super::array::ArrayRef;
use super::halfvec::{new_halfvec, to_half, HalfRef};
use super::sparsevec::*;
use super::vector::{check_expected_dim, new_vector, VectorRef};
use super::vector_cast::{element_to_f32, elements};
use super::wire::check;
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;
use vecmap_engine::textio::{halfvec as hv, sparsevec as sv};

pg_function_info_v1!(vector_to_sparsevec, sparsevec_to_vector, halfvec_to_sparsevec, sparsevec_to_halfvec, array_to_sparsevec);

/// `vector_to_sparsevec(vector, int4, bool) → sparsevec`: keeps the non-zeros; ERROR above
/// 16000 of them.
#[export_name = "vecmap_vector_to_sparsevec"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_to_sparsevec(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (vector, int4, bool).
    let (v, typmod) = unsafe { (VectorRef::arg(fcinfo, 0), arg(fcinfo, 1).value() as i32) };
    check_dim(v.dim() as i64);
    check_expected_dim(typmod, v.dim());
    sparse_from_dense(v.dim(), v.data.iter().copied())
}

/// `halfvec_to_sparsevec(halfvec, int4, bool) → sparsevec`
#[export_name = "vecmap_halfvec_to_sparsevec"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_to_sparsevec(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (halfvec, int4, bool).
    let (v, typmod) = unsafe { (HalfRef::arg(fcinfo, 0), arg(fcinfo, 1).value() as i32) };
    check_dim(v.dim() as i64);
    check_expected_dim(typmod, v.dim());
    sparse_from_dense(v.dim(), v.data.iter().map(|&h| hv::to_f32(h)))
}

/// The dense positions of a stored sparsevec, with pgvector's internal check.
fn scatter(s: &SparseRef, mut put: impl FnMut(usize, f32)) {
    for (&i, &v) in s.indices.iter().zip(s.values) {
        if i < 0 || i >= s.dim {
            ereport!(ERROR, PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, "index out of bounds");
        }
        put(i as usize, v);
    }
}

/// `sparsevec_to_vector(sparsevec, int4, bool) → vector`: ERROR above 16000 dimensions.
#[export_name = "vecmap_sparsevec_to_vector"]
#[pg_guard]
pub unsafe extern "C-unwind" fn sparsevec_to_vector(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (sparsevec, int4, bool).
    let (s, typmod) = unsafe { (SparseRef::arg(fcinfo, 0), arg(fcinfo, 1).value() as i32) };
    super::vector::check_dim(s.dim.max(0) as usize);
    check_expected_dim(typmod, s.dim as usize);
    let (datum, out) = new_vector(s.dim as usize);
    scatter(&s, |i, v| out[i] = v);
    datum
}

/// `sparsevec_to_halfvec(sparsevec, int4, bool) → halfvec`: ERROR above 16000 dimensions or
/// for values beyond the half range.
#[export_name = "vecmap_sparsevec_to_halfvec"]
#[pg_guard]
pub unsafe extern "C-unwind" fn sparsevec_to_halfvec(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (sparsevec, int4, bool).
    let (s, typmod) = unsafe { (SparseRef::arg(fcinfo, 0), arg(fcinfo, 1).value() as i32) };
    super::halfvec::check_dim(s.dim.max(0) as usize);
    check_expected_dim(typmod, s.dim as usize);
    let (datum, out) = new_halfvec(s.dim as usize);
    scatter(&s, |i, v| out[i] = to_half(v));
    datum
}

/// `array_to_sparsevec(int4[] | float4[] | float8[] | numeric[], int4, bool) → sparsevec`.
#[export_name = "vecmap_array_to_sparsevec"]
#[pg_guard]
pub unsafe extern "C-unwind" fn array_to_sparsevec(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (array, int4, bool).
    let (array, typmod) = unsafe { (ArrayRef::from_datum(arg(fcinfo, 0)), arg(fcinfo, 1).value() as i32) };
    let elems = elements(&array);
    check_dim(elems.len() as i64);
    check_expected_dim(typmod, elems.len());
    let values: Vec<f32> = elems.iter().map(|d| element_to_f32(array.elemtype(), *d)).collect();
    let datum = sparse_from_dense(values.len(), values.iter().copied());
    values.iter().filter(|v| **v != 0.0).for_each(|v| check(sv::check_element(*v)));
    datum
}
