//! Binary wire form of `vector` (COPY BINARY, binary protocol): pgvector's
//! `int16 dim, int16 unused (0), float4 x[dim]`, all big-endian.
use super::vector::*;
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;

pg_function_info_v1!(vector_recv, vector_send);

/// `vector_recv(internal, oid, int4) → vector`. Errors like pgvector: dims out of range,
/// typmod mismatch, "expected unused to be 0, not N", NaN/Inf elements, short message.
#[export_name = "vecmap_vector_recv"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_recv(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT; arg 0 is the StringInfo Postgres passes to receive functions.
    let buf = unsafe { &mut *arg(fcinfo, 0).cast_mut_ptr::<pg_sys::StringInfoData>() };
    // SAFETY: STRICT; arg 2 is the typmod.
    let typmod = unsafe { arg(fcinfo, 2).value() as i32 };
    // SAFETY: `data` holds `len` bytes, of which `cursor` are consumed (0 ≤ cursor ≤ len).
    let msg = unsafe { std::slice::from_raw_parts((buf.data as *const u8).add(buf.cursor as usize), (buf.len - buf.cursor) as usize) };
    // Parsing and its checks live in the engine (pgrx-free, fuzzed); errors are pgvector's.
    match vecmap_engine::textio::vector::parse_binary(msg, typmod) {
        Ok((values, used)) => {
            buf.cursor += used as i32;
            vector_datum(&values)
        }
        Err(e) => raise_vector_error(e, None),
    }
}

/// `vector_send(vector) → bytea`
#[export_name = "vecmap_vector_send"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_send(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT; arg 0 is a vector.
    let v = unsafe { VectorRef::arg(fcinfo, 0) };
    let size = pg_sys::VARHDRSZ + 4 + 4 * v.dim();
    // SAFETY: palloc returns `size` writable bytes (or ERRORs); we fill all of them.
    unsafe {
        let p = pg_sys::palloc(size) as *mut u8;
        pgrx::set_varsize_4b(p as *mut pg_sys::varlena, size as i32);
        let out = std::slice::from_raw_parts_mut(p.add(pg_sys::VARHDRSZ), size - pg_sys::VARHDRSZ);
        out[0..2].copy_from_slice(&(v.dim() as u16).to_be_bytes());
        out[2..4].copy_from_slice(&0u16.to_be_bytes());
        for (chunk, x) in out[4..].chunks_exact_mut(4).zip(v.data) {
            chunk.copy_from_slice(&x.to_be_bytes());
        }
        pg_sys::Datum::from(p)
    }
}
