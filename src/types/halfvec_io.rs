//! `halfvec` text and binary I/O, typmod input and the typmod coercion; the formats
//! themselves are parsed by `vecmap_engine::textio::halfvec`.
use super::halfvec::*;
use super::vector_io::format_vector_into;
use super::wire::{bytea_datum, check, recv_bytes, typmod_in};
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::{c_char, CStr};
use vecmap_engine::textio::halfvec as hv;

pg_function_info_v1!(halfvec_in, halfvec_out, halfvec_typmod_in, halfvec_recv, halfvec_send, halfvec);

/// `halfvec_in(cstring, oid, int4) → halfvec`: `[1,2,3]`; pgvector's errors (see textio).
#[export_name = "vecmap_halfvec_in"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_in(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT; arg 0 is a NUL-terminated cstring, arg 2 the typmod.
    let (lit, typmod) =
        unsafe { (CStr::from_ptr(arg(fcinfo, 0).cast_mut_ptr::<c_char>()), arg(fcinfo, 2).value() as i32) };
    let x = check(hv::parse(lit.to_bytes(), typmod));
    let (datum, out) = new_halfvec(x.len());
    out.copy_from_slice(&x);
    datum
}

/// `halfvec_out(halfvec) → cstring`: each element printed as float4out prints it.
#[export_name = "vecmap_halfvec_out"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_out(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT; arg 0 is a halfvec.
    let v = unsafe { HalfRef::arg(fcinfo, 0) };
    let wide: Vec<f32> = v.data.iter().map(|&h| hv::to_f32(h)).collect();
    let size = wide.len() * 16 + 3;
    // SAFETY: palloc returns `size` writable bytes in the current memory context (or ERRORs).
    let buf = unsafe { std::slice::from_raw_parts_mut(pg_sys::palloc(size) as *mut u8, size) };
    format_vector_into(&wide, buf);
    pg_sys::Datum::from(buf.as_mut_ptr())
}

/// `halfvec_typmod_in(cstring[]) → int4`: 1 ≤ n ≤ 16000.
#[export_name = "vecmap_halfvec_typmod_in"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_typmod_in(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (cstring[]).
    unsafe { typmod_in(fcinfo, "halfvec", hv::HALFVEC_MAX_DIM as i64) }
}

/// `halfvec_recv(internal, oid, int4) → halfvec`: int16 dim, int16 0, big-endian halves.
#[export_name = "vecmap_halfvec_recv"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_recv(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: a receive call: arg 0 the StringInfo, arg 2 the typmod.
    let ((buf, bytes), typmod) = unsafe { (recv_bytes(fcinfo), arg(fcinfo, 2).value() as i32) };
    let (x, used) = check(hv::decode(bytes, typmod));
    buf.cursor += used as i32;
    let (datum, out) = new_halfvec(x.len());
    out.copy_from_slice(&x);
    datum
}

/// `halfvec_send(halfvec) → bytea`
#[export_name = "vecmap_halfvec_send"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_send(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT; arg 0 is a halfvec.
    let v = unsafe { HalfRef::arg(fcinfo, 0) };
    let mut out = Vec::with_capacity(4 + 2 * v.dim());
    hv::encode(v.data, &mut out);
    bytea_datum(&out)
}

/// `halfvec(halfvec, int4 typmod, bool) → halfvec`: the length coercion ("expected N
/// dimensions, not M").
#[export_name = "vecmap_halfvec"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (halfvec, int4, bool).
    let (v, typmod) = unsafe { (HalfRef::arg(fcinfo, 0), arg(fcinfo, 1).value() as i32) };
    super::vector::check_expected_dim(typmod, v.dim());
    // SAFETY: as above; a no-op coercion returns its argument.
    unsafe { arg(fcinfo, 0) }
}
