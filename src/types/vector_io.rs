//! Text input/output of `vector`: `[1,2,3]`, shortest round-trip floats.
use super::vector::*;
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::CStr;

pg_function_info_v1!(vector_in, vector_out);

fn invalid_input(text: &str) -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        format!("invalid input syntax for type vector: \"{text}\"")
    );
    unreachable!()
}

/// Parses pgvector's text form; whitespace is allowed around brackets, commas and numbers.
pub fn parse_vector(text: &str) -> Vec<f32> {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let Some(inner) = t.strip_prefix('[') else {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type vector: \"{text}\""),
            "Vector contents must start with \"[\"."
        );
        unreachable!()
    };
    let Some(inner) = inner.strip_suffix(']') else {
        if inner.contains(']') {
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
                format!("invalid input syntax for type vector: \"{text}\""),
                "Junk after closing right brace."
            );
        }
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type vector: \"{text}\""),
            "Unexpected end of input."
        );
        unreachable!()
    };
    if inner.trim_matches(|c: char| c.is_ascii_whitespace()).is_empty() {
        ereport!(ERROR, PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, "vector must have at least 1 dimension");
    }
    let mut out = Vec::new();
    for part in inner.split(',') {
        let p = part.trim_matches(|c: char| c.is_ascii_whitespace());
        if p.is_empty() || p.contains(|c: char| c.is_ascii_whitespace()) {
            invalid_input(text);
        }
        // Rust accepts "inf"/"nan"/"infinity": reject them here as non-numbers get the
        // syntax error and the parsed non-finite ones get pgvector's range messages.
        let v: f64 = match p.parse::<f64>() {
            Ok(v) if p.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) => v,
            Ok(v) if v.is_nan() => {
                ereport!(ERROR, PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, "NaN not allowed in vector");
                unreachable!()
            }
            Ok(v) if v.is_infinite() => {
                ereport!(ERROR, PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, "infinite value not allowed in vector");
                unreachable!()
            }
            _ => invalid_input(text),
        };
        let f = v as f32;
        if f.is_infinite() || (v != 0.0 && f == 0.0 && v.abs() < f32::MIN_POSITIVE as f64 * 1e-10) {
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
                format!("\"{p}\" is out of range for type real")
            );
        }
        out.push(f);
        if out.len() > VECTOR_MAX_DIM {
            check_dim(out.len());
        }
    }
    out
}

/// `vector_in(cstring, oid, int4) → vector`
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_in(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT; arg 0 is a NUL-terminated cstring, arg 2 the typmod.
    let (text, typmod) = unsafe {
        (CStr::from_ptr(arg(fcinfo, 0).cast_mut_ptr::<std::ffi::c_char>()), arg(fcinfo, 2).value() as i32)
    };
    let text = text.to_string_lossy();
    let values = parse_vector(&text);
    check_dim(values.len());
    check_expected_dim(typmod, values.len());
    vector_datum(&values)
}

/// Shortest text that parses back to the same f32 (Rust's `Display` for f32 is exactly that).
pub fn format_vector(values: &[f32]) -> String {
    let mut s = String::with_capacity(values.len() * 10 + 2);
    s.push('[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        write_float(&mut s, *v);
    }
    s.push(']');
    s
}

/// Formats like pgvector's float_to_shortest_decimal (exponent form for large/small).
pub fn write_float(s: &mut String, v: f32) {
    use std::fmt::Write;
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e15).contains(&a) {
        let e = format!("{v:e}");
        // Rust: "1.5e-7" → Postgres style "1.5e-07"
        let (mant, exp) = e.split_once('e').unwrap();
        let (sign, digits) = if let Some(d) = exp.strip_prefix('-') { ('-', d) } else { ('+', exp) };
        let _ = write!(s, "{mant}e{sign}{digits:0>2}");
    } else {
        let _ = write!(s, "{v}");
    }
}

/// `vector_out(vector) → cstring`
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_out(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT; arg 0 is a vector.
    let v = unsafe { VectorRef::from_datum(arg(fcinfo, 0)) };
    let s = format_vector(v.data);
    // SAFETY: pstrdup copies into the current memory context.
    unsafe {
        let c = std::ffi::CString::new(s).unwrap();
        pg_sys::Datum::from(pg_sys::pstrdup(c.as_ptr()))
    }
}
