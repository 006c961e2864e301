//! Casts to and from `halfvec`: `vector` ↔ `halfvec`, `halfvec` → `real[]`, and
//! `integer[]`/`real[]`/`double precision[]`/`numeric[]` → `halfvec` (typmod respected).
use super::array::{new_array, ArrayRef};
use super::halfvec::*;
use super::vector::{check_expected_dim, new_vector, VectorRef};
use super::vector_cast::{element_to_f32, elements};
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;

pg_function_info_v1!(array_to_halfvec, halfvec_to_float4, vector_to_halfvec, halfvec_to_vector);

/// `array_to_halfvec(int4[] | float4[] | float8[] | numeric[], int4, bool) → halfvec`.
/// ERRORs: multi-dimensional, nulls, 0 or > 16000 elements, typmod, out of half range, NaN/Inf.
#[export_name = "vecmap_array_to_halfvec"]
#[pg_guard]
pub unsafe extern "C-unwind" fn array_to_halfvec(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (array, int4, bool).
    let (array, typmod) = unsafe { (ArrayRef::from_datum(arg(fcinfo, 0)), arg(fcinfo, 1).value() as i32) };
    let elems = elements(&array);
    check_dim(elems.len());
    check_expected_dim(typmod, elems.len());
    let (datum, out) = new_halfvec(elems.len());
    for (r, d) in out.iter_mut().zip(elems) {
        *r = to_half(element_to_f32(array.elemtype(), *d));
    }
    out.iter().for_each(|h| check_element(*h));
    datum
}

/// `halfvec_to_float4(halfvec, int4, bool) → real[]`: the cast `halfvec::real[]`.
#[export_name = "vecmap_halfvec_to_float4"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_to_float4(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (halfvec, int4, bool).
    let v = unsafe { HalfRef::arg(fcinfo, 0) };
    let (datum, out) = new_array::<f32>(pg_sys::FLOAT4OID, v.dim());
    out.iter_mut().enumerate().for_each(|(i, r)| *r = v.get(i));
    datum
}

/// `vector_to_halfvec(vector, int4, bool) → halfvec`: rounds to binary16; ERROR
/// "\"70000\" is out of range for type halfvec" for finite values beyond ±65504.
#[export_name = "vecmap_vector_to_halfvec"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_to_halfvec(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (vector, int4, bool).
    let (v, typmod) = unsafe { (VectorRef::arg(fcinfo, 0), arg(fcinfo, 1).value() as i32) };
    check_dim(v.dim());
    check_expected_dim(typmod, v.dim());
    let (datum, out) = new_halfvec(v.dim());
    for (r, x) in out.iter_mut().zip(v.data) {
        *r = to_half(*x);
    }
    datum
}

/// `halfvec_to_vector(halfvec, int4, bool) → vector` (exact).
#[export_name = "vecmap_halfvec_to_vector"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_to_vector(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (halfvec, int4, bool).
    let (v, typmod) = unsafe { (HalfRef::arg(fcinfo, 0), arg(fcinfo, 1).value() as i32) };
    super::vector::check_dim(v.dim());
    check_expected_dim(typmod, v.dim());
    let (datum, out) = new_vector(v.dim());
    out.iter_mut().enumerate().for_each(|(i, r)| *r = v.get(i));
    datum
}
