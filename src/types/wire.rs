//! Shared glue for the types whose formats live in `vecmap_engine::textio`: raising a
//! `TextError` with its SQLSTATE, reading a receive buffer, building a bytea, typmod input.
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;
use vecmap_engine::textio::{Code, TextError};

/// Raises `e` as an ERROR with pgvector's SQLSTATE for its class.
pub fn raise(e: TextError) -> ! {
    let code = match e.code {
        Code::InvalidTextRepresentation => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        Code::NumericValueOutOfRange => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        Code::DataException => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        Code::ProgramLimitExceeded => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        Code::ProtocolViolation => PgSqlErrorCode::ERRCODE_PROTOCOL_VIOLATION,
    };
    match e.detail {
        Some(d) => {
            ereport!(ERROR, code, e.message, d);
        }
        None => {
            ereport!(ERROR, code, e.message);
        }
    }
}

/// Unwraps or raises.
pub fn check<T>(r: Result<T, TextError>) -> T {
    r.unwrap_or_else(|e| raise(e))
}

/// The unread bytes of a receive function's StringInfo (argument 0).
///
/// # Safety
/// `fcinfo` must be a receive function call: arg 0 a valid StringInfo.
pub unsafe fn recv_bytes<'a>(fcinfo: pg_sys::FunctionCallInfo) -> (&'a mut pg_sys::StringInfoData, &'a [u8]) {
    // SAFETY: forwarded from the caller; data holds len bytes and cursor ≤ len.
    unsafe {
        let buf = &mut *arg(fcinfo, 0).cast_mut_ptr::<pg_sys::StringInfoData>();
        let bytes = std::slice::from_raw_parts((buf.data as *const u8).add(buf.cursor as usize), (buf.len - buf.cursor) as usize);
        (buf, bytes)
    }
}

/// A palloc'd bytea holding `bytes`.
pub fn bytea_datum(bytes: &[u8]) -> pg_sys::Datum {
    let size = pg_sys::VARHDRSZ + bytes.len();
    // SAFETY: palloc returns `size` writable bytes (or ERRORs); we fill all of them.
    unsafe {
        let p = pg_sys::palloc(size) as *mut u8;
        pgrx::set_varsize_4b(p as *mut pg_sys::varlena, size as i32);
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p.add(pg_sys::VARHDRSZ), bytes.len());
        pg_sys::Datum::from(p)
    }
}

/// A typmod_in body: one integer in [1, max] ("invalid type modifier", "dimensions for type
/// <ty> must be at least 1", "… cannot exceed <max>", all 22023).
///
/// # Safety
/// `fcinfo` must carry a non-null cstring[] as argument 0.
pub unsafe fn typmod_in(fcinfo: pg_sys::FunctionCallInfo, ty: &str, max: i64) -> pg_sys::Datum {
    let mut n: std::ffi::c_int = 0;
    // SAFETY: STRICT; arg 0 is a cstring[]; ArrayGetIntegerTypmods returns `n` int32s or ERRORs.
    let mods = unsafe {
        let arr = pg_sys::pg_detoast_datum(arg(fcinfo, 0).cast_mut_ptr()) as *mut pg_sys::ArrayType;
        let p = pg_sys::ArrayGetIntegerTypmods(arr, &mut n);
        std::slice::from_raw_parts(p, n as usize)
    };
    let code = PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE;
    let &[dim] = mods else {
        ereport!(ERROR, code, "invalid type modifier");
    };
    if dim < 1 {
        ereport!(ERROR, code, format!("dimensions for type {ty} must be at least 1"));
    }
    if dim as i64 > max {
        ereport!(ERROR, code, format!("dimensions for type {ty} cannot exceed {max}"));
    }
    pg_sys::Datum::from(dim)
}

/// float4out's text for one value (shortest round-trip, as pgvector prints it in messages).
pub fn float4_text(v: f32) -> String {
    let mut buf = [0u8; 19];
    let n = super::vector_io::format_vector_into(&[v], &mut buf);
    String::from_utf8_lossy(&buf[1..n - 1]).into_owned()
}
