//! Single-vector functions: `vector_dims`, `vector_norm`, `l2_normalize`, `subvector`,
//! `binary_quantize`.
use super::vector::*;
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;

pg_function_info_v1!(vector_dims, vector_norm, l2_normalize, subvector, binary_quantize);

/// ‖x‖₂ accumulated in f64 (like pgvector, so `[3e37,4e37]` has norm 5e37).
fn norm(x: &[f32]) -> f64 {
    x.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt()
}

/// `vector_dims(vector) → int4`
#[export_name = "vecmap_vector_dims"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_dims(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (vector).
    let v = unsafe { VectorRef::arg(fcinfo, 0) };
    pg_sys::Datum::from(v.dim() as i32)
}

/// `vector_norm(vector) → float8`: Euclidean norm.
#[export_name = "vecmap_vector_norm"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_norm(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (vector).
    let v = unsafe { VectorRef::arg(fcinfo, 0) };
    float8_datum(norm(v.data))
}

/// `l2_normalize(vector) → vector`: x/‖x‖; the zero vector stays zero; ERROR on overflow.
#[export_name = "vecmap_l2_normalize"]
#[pg_guard]
pub unsafe extern "C-unwind" fn l2_normalize(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (vector).
    let v = unsafe { VectorRef::arg(fcinfo, 0) };
    let n = norm(v.data);
    let (datum, out) = new_vector(v.dim());
    if n > 0.0 {
        for (r, x) in out.iter_mut().zip(v.data) {
            *r = (*x as f64 / n) as f32;
        }
        if out.iter().any(|r| r.is_infinite()) {
            float_overflow_error();
        }
    }
    datum
}

/// `subvector(vector, start int4, count int4) → vector`: elements start..start+count−1
/// (1-based, clipped like `substring`); ERROR when nothing remains.
#[export_name = "vecmap_subvector"]
#[pg_guard]
pub unsafe extern "C-unwind" fn subvector(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (vector, int4, int4).
    let (v, start, count) = unsafe {
        (VectorRef::arg(fcinfo, 0), arg(fcinfo, 1).value() as i32 as i64, arg(fcinfo, 2).value() as i32 as i64)
    };
    let dim = v.dim() as i64;
    // In i64 nothing overflows: clip [start, start+count) to [1, dim].
    let end = (start + count).min(dim + 1);
    let start = start.max(1);
    if count < 1 || start > dim || end <= start {
        ereport!(ERROR, PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, "vector must have at least 1 dimension");
    }
    vector_datum(&v.data[(start - 1) as usize..(end - 1) as usize])
}

/// `binary_quantize(vector) → bit`: bit i is set when xᵢ > 0.
#[export_name = "vecmap_binary_quantize"]
#[pg_guard]
pub unsafe extern "C-unwind" fn binary_quantize(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (vector).
    let v = unsafe { VectorRef::arg(fcinfo, 0) };
    // VarBit layout: int32 vl_len_, int32 bit_len, bits8 data[ceil(bit_len / 8)].
    let size = pg_sys::VARHDRSZ + 4 + v.dim().div_ceil(8);
    // SAFETY: palloc0 returns `size` zeroed bytes (or ERRORs); we write within them.
    unsafe {
        let p = pg_sys::palloc0(size) as *mut u8;
        pgrx::set_varsize_4b(p as *mut pg_sys::varlena, size as i32);
        *(p.add(pg_sys::VARHDRSZ) as *mut i32) = v.dim() as i32;
        let bits = std::slice::from_raw_parts_mut(p.add(pg_sys::VARHDRSZ + 4), size - pg_sys::VARHDRSZ - 4);
        for (i, x) in v.data.iter().enumerate() {
            if *x > 0.0 {
                bits[i / 8] |= 0x80 >> (i % 8);
            }
        }
        pg_sys::Datum::from(p)
    }
}
