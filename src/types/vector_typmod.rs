//! `vector(n)`: the type modifier is the dimension count, 1 ≤ n ≤ 16000, enforced on input,
//! receive, casts and assignment (through the `vector(vector, integer, boolean)` length coercion).
use super::vector::*;
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;

pg_function_info_v1!(vector_typmod_in, vector);

/// `vector_typmod_in(cstring[]) → int4`: one integer in [1, 16000] ("invalid type modifier",
/// "dimensions for type vector must be at least 1", "… cannot exceed 16000", all 22023).
#[export_name = "vecmap_vector_typmod_in"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_typmod_in(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let mut n: std::ffi::c_int = 0;
    // SAFETY: STRICT; arg 0 is a cstring[]; ArrayGetIntegerTypmods returns `n` int32s or ERRORs.
    let mods = unsafe {
        let arr = pg_sys::pg_detoast_datum(arg(fcinfo, 0).cast_mut_ptr()) as *mut pg_sys::ArrayType;
        let p = pg_sys::ArrayGetIntegerTypmods(arr, &mut n);
        std::slice::from_raw_parts(p, n as usize)
    };
    let dim = vecmap_engine::textio::vector::parse_typmod(mods).unwrap_or_else(|e| raise_vector_error(e, None));
    pg_sys::Datum::from(dim)
}

/// `vector(vector, int4 typmod, bool explicit) → vector`: the length coercion behind
/// `CREATE CAST (vector AS vector)`; ERROR "expected N dimensions, not M" on mismatch.
#[export_name = "vecmap_vector"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT; arg 0 is a vector, arg 1 the target typmod.
    let (v, typmod) = unsafe { (VectorRef::arg(fcinfo, 0), arg(fcinfo, 1).value() as i32) };
    check_expected_dim(typmod, v.dim());
    // SAFETY: as above; returning the argument unchanged is what a no-op coercion does.
    unsafe { arg(fcinfo, 0) }
}
