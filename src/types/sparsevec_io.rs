//! `sparsevec` text and binary I/O, typmod input and the typmod coercion; the formats
//! themselves are parsed by `vecmap_engine::textio::sparsevec`.
use super::sparsevec::*;
use super::wire::{bytea_datum, check, recv_bytes, typmod_in};
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::{c_char, CStr};
use vecmap_engine::textio::sparsevec as sv;

pg_function_info_v1!(sparsevec_in, sparsevec_out, sparsevec_typmod_in, sparsevec_recv, sparsevec_send, sparsevec);

/// Builds the datum for a parsed value.
fn datum_of(s: &sv::Sparse) -> pg_sys::Datum {
    let (datum, idx, val) = new_sparsevec(s.dim, s.indices.len());
    idx.copy_from_slice(&s.indices);
    val.copy_from_slice(&s.values);
    datum
}

/// `sparsevec_in(cstring, oid, int4) → sparsevec`: `{1:1.5,3:2}/5` (1-based indices).
#[export_name = "vecmap_sparsevec_in"]
#[pg_guard]
pub unsafe extern "C-unwind" fn sparsevec_in(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT; arg 0 is a NUL-terminated cstring, arg 2 the typmod.
    let (lit, typmod) =
        unsafe { (CStr::from_ptr(arg(fcinfo, 0).cast_mut_ptr::<c_char>()), arg(fcinfo, 2).value() as i32) };
    datum_of(&check(sv::parse(lit.to_bytes(), typmod)))
}

extern "C" {
    /// Postgres' float4 shortest formatter (as in vector_io.rs): ≤ 15 bytes, no NUL.
    fn float_to_shortest_decimal_bufn(f: f32, result: *mut c_char) -> std::ffi::c_int;
}

/// `sparsevec_out(sparsevec) → cstring`: `{i:v,…}/dim`, 1-based, values as float4out prints.
#[export_name = "vecmap_sparsevec_out"]
#[pg_guard]
pub unsafe extern "C-unwind" fn sparsevec_out(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT; arg 0 is a sparsevec.
    let s = unsafe { SparseRef::arg(fcinfo, 0) };
    let mut out = Vec::with_capacity(s.indices.len() * 28 + 16);
    out.push(b'{');
    let mut num = [0u8; 16];
    for (k, (i, v)) in s.indices.iter().zip(s.values).enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice((*i as i64 + 1).to_string().as_bytes());
        out.push(b':');
        // SAFETY: `num` holds 16 bytes; the formatter writes at most 15 and never ERRORs.
        let n = unsafe { float_to_shortest_decimal_bufn(*v, num.as_mut_ptr() as *mut c_char) } as usize;
        out.extend_from_slice(&num[..n]);
    }
    out.extend_from_slice(format!("}}/{}", s.dim).as_bytes());
    out.push(0);
    // SAFETY: palloc returns out.len() writable bytes (or ERRORs).
    unsafe {
        let p = pg_sys::palloc(out.len()) as *mut u8;
        std::ptr::copy_nonoverlapping(out.as_ptr(), p, out.len());
        pg_sys::Datum::from(p)
    }
}

/// `sparsevec_typmod_in(cstring[]) → int4`: 1 ≤ n ≤ 10⁹.
#[export_name = "vecmap_sparsevec_typmod_in"]
#[pg_guard]
pub unsafe extern "C-unwind" fn sparsevec_typmod_in(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (cstring[]).
    unsafe { typmod_in(fcinfo, "sparsevec", sv::SPARSEVEC_MAX_DIM) }
}

/// `sparsevec_recv(internal, oid, int4) → sparsevec`: int32 dim, nnz, 0, 0-based indices,
/// float4 values, all big-endian.
#[export_name = "vecmap_sparsevec_recv"]
#[pg_guard]
pub unsafe extern "C-unwind" fn sparsevec_recv(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: a receive call: arg 0 the StringInfo, arg 2 the typmod.
    let ((buf, bytes), typmod) = unsafe { (recv_bytes(fcinfo), arg(fcinfo, 2).value() as i32) };
    let (s, used) = check(sv::decode(bytes, typmod));
    buf.cursor += used as i32;
    datum_of(&s)
}

/// `sparsevec_send(sparsevec) → bytea`
#[export_name = "vecmap_sparsevec_send"]
#[pg_guard]
pub unsafe extern "C-unwind" fn sparsevec_send(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT; arg 0 is a sparsevec.
    let s = unsafe { SparseRef::arg(fcinfo, 0) };
    let mut out = Vec::with_capacity(12 + 8 * s.indices.len());
    sv::encode(s.dim, s.indices, s.values, &mut out);
    bytea_datum(&out)
}

/// `sparsevec(sparsevec, int4 typmod, bool) → sparsevec`: the length coercion.
#[export_name = "vecmap_sparsevec"]
#[pg_guard]
pub unsafe extern "C-unwind" fn sparsevec(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (sparsevec, int4, bool).
    let (s, typmod) = unsafe { (SparseRef::arg(fcinfo, 0), arg(fcinfo, 1).value() as i32) };
    check(vecmap_engine::textio::error::check_typmod(typmod, s.dim as i64));
    // SAFETY: as above; a no-op coercion returns its argument.
    unsafe { arg(fcinfo, 0) }
}
