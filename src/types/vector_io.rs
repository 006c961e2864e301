//! Text input/output of `vector`: `[1,2,3]`, floats printed exactly like float4out.
use super::vector::*;
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::{c_char, CStr};

pg_function_info_v1!(vector_in, vector_out);

/// Postgres' scanner whitespace (space, \t, \n, \r, \v, \f), as pgvector skips it.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn syntax_error(lit: &CStr, detail: Option<&str>) -> ! {
    let msg = format!("invalid input syntax for type vector: \"{}\"", lit.to_string_lossy());
    match detail {
        Some(d) => {
            ereport!(ERROR, PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION, msg, d);
        }
        None => {
            ereport!(ERROR, PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION, msg);
        }
    }
}

/// Parses one float with C `strtof` (what float4in and pgvector use) from the NUL-terminated
/// text at `p`: returns (value, bytes consumed, overflowed to ±Inf).
fn strtof(p: *const c_char) -> (f32, usize, bool) {
    let mut end = p as *mut c_char;
    // Postgres runs with LC_NUMERIC=C, so '.' is the decimal separator, as float4in assumes.
    // SAFETY: `p` points into a NUL-terminated string, which strtof reads no further than.
    unsafe {
        *libc::__errno_location() = 0;
        let v = libc::strtof(p, &mut end);
        let erange = *libc::__errno_location() == libc::ERANGE;
        (v, end.offset_from(p) as usize, erange && v.is_infinite())
    }
}

/// Parses pgvector's text form `[x, y, …]` (whitespace allowed around brackets, commas and
/// numbers). Errors exactly as pgvector: 22P02 for syntax, 22003 for ±overflow, 22000 for
/// NaN/Inf/empty, 54000 above 16000 elements.
pub fn parse_vector(lit: &CStr) -> Vec<f32> {
    let s = lit.to_bytes_with_nul();
    let mut i = 0;
    let skip_space = |i: &mut usize| {
        while is_space(s[*i]) {
            *i += 1;
        }
    };
    skip_space(&mut i);
    if s[i] != b'[' {
        syntax_error(lit, Some("Vector contents must start with \"[\"."));
    }
    i += 1;
    skip_space(&mut i);
    if s[i] == b']' {
        ereport!(ERROR, PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, "vector must have at least 1 dimension");
    }
    let mut out = Vec::new();
    loop {
        if out.len() == VECTOR_MAX_DIM {
            check_dim(VECTOR_MAX_DIM + 1);
        }
        skip_space(&mut i);
        if s[i] == 0 {
            syntax_error(lit, None);
        }
        let (v, used, overflow) = strtof(s[i..].as_ptr() as *const c_char);
        if used == 0 {
            syntax_error(lit, None);
        }
        if overflow {
            let num = String::from_utf8_lossy(&s[i..i + used]);
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
                format!("\"{num}\" is out of range for type vector")
            );
        }
        check_element(v);
        out.push(v);
        i += used;
        skip_space(&mut i);
        match s[i] {
            b',' => i += 1,
            b']' => {
                i += 1;
                break;
            }
            _ => syntax_error(lit, None),
        }
    }
    skip_space(&mut i);
    if s[i] != 0 {
        syntax_error(lit, Some("Junk after closing right brace."));
    }
    out
}

/// `vector_in(cstring, oid, int4) → vector`; typmod checked ("expected 3 dimensions, not 2").
#[export_name = "vecmap_vector_in"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_in(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT; arg 0 is a NUL-terminated cstring, arg 2 the typmod.
    let (lit, typmod) =
        unsafe { (CStr::from_ptr(arg(fcinfo, 0).cast_mut_ptr::<c_char>()), arg(fcinfo, 2).value() as i32) };
    let values = parse_vector(lit);
    check_dim(values.len());
    check_expected_dim(typmod, values.len());
    vector_datum(&values)
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
