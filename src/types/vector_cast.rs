//! Casts between `vector` and arrays: `integer[]`, `real[]`, `double precision[]`,
//! `numeric[]` → `vector` (typmod respected) and `vector` → `real[]`.
use super::array::{new_array, ArrayRef};
use super::vector::*;
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;

pg_function_info_v1!(array_to_vector, vector_to_float4);

/// The elements of a 1-D array argument, deconstructed (ERROR "array must be 1-D",
/// "array must not contain nulls").
pub(crate) fn elements<'a>(a: &ArrayRef) -> &'a [pg_sys::Datum] {
    if a.ndim() > 1 {
        ereport!(ERROR, PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, "array must be 1-D");
    }
    // SAFETY: `a` is a detoasted array; array_contains_nulls only reads its bitmap.
    if a.has_null_bitmap() && unsafe { pg_sys::array_contains_nulls(a.as_ptr()) } {
        ereport!(ERROR, PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED, "array must not contain nulls");
    }
    let (mut len, mut byval, mut align) = (0i16, false, 0 as std::ffi::c_char);
    let (mut elems, mut n) = (std::ptr::null_mut(), 0);
    // SAFETY: `a` is a detoasted array; deconstruct_array pallocs and fills `n` datums.
    unsafe {
        pg_sys::get_typlenbyvalalign(a.elemtype(), &mut len, &mut byval, &mut align);
        let nulls = std::ptr::null_mut();
        pg_sys::deconstruct_array(a.as_ptr(), a.elemtype(), len as i32, byval, align, &mut elems, nulls, &mut n);
        if n == 0 {
            return &[];
        }
        std::slice::from_raw_parts(elems, n as usize)
    }
}

/// Converts one array element to f32 like a C cast (double → float rounds, may give ±Inf).
pub(crate) fn element_to_f32(elemtype: pg_sys::Oid, d: pg_sys::Datum) -> f32 {
    match elemtype {
        pg_sys::INT4OID => d.value() as i32 as f32,
        pg_sys::FLOAT4OID => f32::from_bits(d.value() as u32),
        pg_sys::FLOAT8OID => f64::from_bits(d.value() as u64) as f32,
        // SAFETY: numeric_float4 takes one non-null numeric, returns a float4 or ERRORs.
        pg_sys::NUMERICOID => unsafe {
            pgrx::direct_function_call::<f32>(pg_sys::numeric_float4, &[Some(d)]).unwrap_or_default()
        },
        _ => {
            ereport!(ERROR, PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, "unsupported array type");
        }
    }
}

/// `array_to_vector(int4[] | float4[] | float8[] | numeric[], int4 typmod, bool) → vector`.
/// ERRORs: multi-dimensional, nulls, 0 or > 16000 elements, typmod mismatch, NaN/±Inf.
#[export_name = "vecmap_array_to_vector"]
#[pg_guard]
pub unsafe extern "C-unwind" fn array_to_vector(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (array, int4, bool).
    let (array, typmod) = unsafe { (ArrayRef::from_datum(arg(fcinfo, 0)), arg(fcinfo, 1).value() as i32) };
    let elems = elements(&array);
    check_dim(elems.len());
    check_expected_dim(typmod, elems.len());
    let (datum, out) = new_vector(elems.len());
    for (r, d) in out.iter_mut().zip(elems) {
        *r = element_to_f32(array.elemtype(), *d);
    }
    out.iter().for_each(|x| check_element(*x));
    datum
}

/// `vector_to_float4(vector, int4, bool) → real[]`: the cast `vector::real[]`.
#[export_name = "vecmap_vector_to_float4"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_to_float4(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (vector, int4, bool).
    let v = unsafe { VectorRef::arg(fcinfo, 0) };
    let (datum, out) = new_array::<f32>(pg_sys::FLOAT4OID, v.dim());
    out.copy_from_slice(v.data);
    datum
}
