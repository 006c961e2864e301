//! Text input/output of `vector`: `[1,2,3]`, floats printed exactly like float4out.
use super::vector::*;
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::{c_char, CStr};

pg_function_info_v1!(vector_in, vector_out);

/// `vector_in(cstring, oid, int4) → vector`; typmod checked ("expected 3 dimensions, not 2").
#[export_name = "vecmap_vector_in"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_in(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT; arg 0 is a NUL-terminated cstring, arg 2 the typmod.
    let (lit, typmod) =
        unsafe { (CStr::from_ptr(arg(fcinfo, 0).cast_mut_ptr::<c_char>()), arg(fcinfo, 2).value() as i32) };
    // Parsing and its checks live in the engine (pgrx-free, fuzzed); errors are pgvector's.
    match vecmap_engine::textio::vector::parse_text(lit, typmod) {
        Ok(values) => vector_datum(&values),
        Err(e) => raise_vector_error(e, Some(lit)),
    }
}

extern "C" {
    /// Postgres' Ryū float4 formatter (src/common/f2s.c, linked into the server), the one
    /// float4out and pgvector use: writes at most 15 bytes, no NUL, and returns the length.
    fn float_to_shortest_decimal_bufn(f: f32, result: *mut c_char) -> std::ffi::c_int;
}

/// FLOAT_SHORTEST_DECIMAL_LEN: room for one formatted float4 plus a NUL.
const FLOAT_LEN: usize = 16;

/// Writes `[x,y,…]` plus a NUL into `buf` (which must hold `values.len() * 16 + 3` bytes),
/// each element exactly as float4out prints it with extra_float_digits ≥ 1; returns the length.
pub fn format_vector_into(values: &[f32], buf: &mut [u8]) -> usize {
    assert!(buf.len() >= values.len() * FLOAT_LEN + 3);
    let mut n = 0;
    buf[n] = b'[';
    n += 1;
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            buf[n] = b',';
            n += 1;
        }
        // SAFETY: ≥ FLOAT_LEN bytes are left (asserted above); it writes ≤ 15 and never ERRORs.
        n += unsafe { float_to_shortest_decimal_bufn(*v, buf[n..].as_mut_ptr() as *mut c_char) } as usize;
    }
    buf[n] = b']';
    buf[n + 1] = 0;
    n + 1
}

/// `vector_out(vector) → cstring`
#[export_name = "vecmap_vector_out"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_out(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT; arg 0 is a vector.
    let v = unsafe { VectorRef::arg(fcinfo, 0) };
    let size = v.dim() * FLOAT_LEN + 3;
    // SAFETY: palloc returns `size` writable bytes in the current memory context (or ERRORs).
    let buf = unsafe { std::slice::from_raw_parts_mut(pg_sys::palloc(size) as *mut u8, size) };
    format_vector_into(v.data, buf);
    pg_sys::Datum::from(buf.as_mut_ptr())
}
