//! `halfvec` distances (`<-> <#> <=> <+>`), single-vector functions, arithmetic, btree
//! ordering and the `avg`/`sum` aggregates — pgvector's semantics: elements widened to f32,
//! distances accumulated in f32 (SIMD, F16C), results rounded back to binary16.
use super::halfvec::*;
use super::vector::{check_expected_dim, float8_datum, float_overflow_error, float_underflow_error};
use super::vector_agg::{add_checked, new_state, state};
use crate::fmgr::{arg, return_null};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cmp::Ordering;
use vecmap_engine::kernels;
use vecmap_engine::textio::halfvec as hv;

pg_function_info_v1!(
    halfvec_l2_distance,
    halfvec_l2_squared_distance,
    halfvec_inner_product,
    halfvec_negative_inner_product,
    halfvec_cosine_distance,
    halfvec_spherical_distance,
    halfvec_l1_distance,
    halfvec_vector_dims,
    halfvec_l2_norm,
    halfvec_l2_normalize,
    halfvec_binary_quantize,
    halfvec_subvector,
    halfvec_add,
    halfvec_sub,
    halfvec_mul,
    halfvec_concat,
    halfvec_lt,
    halfvec_le,
    halfvec_eq,
    halfvec_ne,
    halfvec_ge,
    halfvec_gt,
    halfvec_cmp,
    halfvec_accum,
    halfvec_avg,
);

macro_rules! distance {
    ($name:ident, $doc:literal, |$a:ident, $b:ident| $body:expr) => {
        binary_fn!("halfvec", half_pair, $name, $doc, |x, y| {
            check_same_dims(&x, &y);
            let ($a, $b) = (x.data, y.data);
            float8_datum($body)
        });
    };
}

distance!(halfvec_l2_distance, "`l2_distance(halfvec, halfvec) → float8`, operator `<->`.", |a, b| {
    (kernels::l2sq_f16(a, b) as f64).sqrt()
});
distance!(halfvec_l2_squared_distance, "`halfvec_l2_squared_distance(halfvec, halfvec) → float8`.", |a, b| {
    kernels::l2sq_f16(a, b) as f64
});
distance!(halfvec_inner_product, "`inner_product(halfvec, halfvec) → float8`.", |a, b| kernels::dot_f16(a, b)
    as f64);
distance!(
    halfvec_negative_inner_product,
    "`halfvec_negative_inner_product(halfvec, halfvec) → float8`, operator `<#>`.",
    |a, b| -kernels::dot_f16(a, b) as f64
);
distance!(
    halfvec_cosine_distance,
    "`cosine_distance(halfvec, halfvec) → float8`, operator `<=>`; NaN for a zero vector.",
    |a, b| kernels::cosine_distance_f16(a, b)
);
distance!(
    halfvec_spherical_distance,
    "`halfvec_spherical_distance(halfvec, halfvec) → float8`: acos(a·b)/π for unit vectors.",
    |a, b| (kernels::dot_f16(a, b) as f64).clamp(-1.0, 1.0).acos() / std::f64::consts::PI
);
distance!(halfvec_l1_distance, "`l1_distance(halfvec, halfvec) → float8`, operator `<+>`.", |a, b| {
    kernels::l1_f16(a, b) as f64
});

/// ‖x‖₂ accumulated in f64.
fn norm(v: &HalfRef) -> f64 {
    v.data.iter().fold(0.0f64, |n, &h| n + hv::to_f32(h) as f64 * hv::to_f32(h) as f64).sqrt()
}

/// `vector_dims(halfvec) → int4`
#[export_name = "vecmap_halfvec_vector_dims"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_vector_dims(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (halfvec).
    let v = unsafe { HalfRef::arg(fcinfo, 0) };
    pg_sys::Datum::from(v.dim() as i32)
}

/// `l2_norm(halfvec) → float8`: Euclidean norm.
#[export_name = "vecmap_halfvec_l2_norm"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_l2_norm(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (halfvec).
    let v = unsafe { HalfRef::arg(fcinfo, 0) };
    float8_datum(norm(&v))
}

/// `l2_normalize(halfvec) → halfvec`: x/‖x‖ (zero stays zero); ERROR on overflow.
#[export_name = "vecmap_halfvec_l2_normalize"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_l2_normalize(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (halfvec).
    let v = unsafe { HalfRef::arg(fcinfo, 0) };
    let n = norm(&v);
    let (datum, out) = new_halfvec(v.dim());
    if n > 0.0 {
        for (i, r) in out.iter_mut().enumerate() {
            *r = hv::from_f32((v.get(i) as f64 / n) as f32);
        }
        if out.iter().any(|&r| hv::is_inf(r)) {
            float_overflow_error();
        }
    }
    datum
}

/// `binary_quantize(halfvec) → bit`: bit i set when xᵢ > 0.
#[export_name = "vecmap_halfvec_binary_quantize"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_binary_quantize(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (halfvec).
    let v = unsafe { HalfRef::arg(fcinfo, 0) };
    super::bit::quantize(v.dim(), |i| v.get(i) > 0.0)
}

/// `subvector(halfvec, start, count) → halfvec`: 1-based like `substring`; ERROR when empty.
#[export_name = "vecmap_halfvec_subvector"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_subvector(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (halfvec, int4, int4).
    let (v, start, count) = unsafe {
        (HalfRef::arg(fcinfo, 0), arg(fcinfo, 1).value() as i32 as i64, arg(fcinfo, 2).value() as i32 as i64)
    };
    let dim = v.dim() as i64;
    let empty = || -> ! {
        ereport!(ERROR, PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, "halfvec must have at least 1 dimension");
    };
    if count < 1 {
        empty();
    }
    let end = if start > dim - count { dim + 1 } else { start + count };
    let start = start.max(1);
    if start > dim {
        empty();
    }
    check_dim((end - start).max(0) as usize);
    let (datum, out) = new_halfvec((end - start) as usize);
    out.copy_from_slice(&v.data[(start - 1) as usize..(end - 1) as usize]);
    datum
}

/// Element-wise `f` in f32, rounded to binary16; ERROR on mismatch or overflow.
fn elementwise<'a>(a: &HalfRef, b: &HalfRef, f: impl Fn(f32, f32) -> f32) -> (pg_sys::Datum, &'a [u16]) {
    check_same_dims(a, b);
    let (datum, out) = new_halfvec(a.dim());
    for (i, r) in out.iter_mut().enumerate() {
        *r = hv::from_f32(f(a.get(i), b.get(i)));
    }
    if out.iter().any(|&r| hv::is_inf(r)) {
        float_overflow_error();
    }
    (datum, out)
}

/// `halfvec + halfvec`
#[export_name = "vecmap_halfvec_add"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_add(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (halfvec, halfvec).
    let (a, b) = unsafe { half_pair(fcinfo) };
    elementwise(&a, &b, |x, y| x + y).0
}

/// `halfvec - halfvec`
#[export_name = "vecmap_halfvec_sub"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_sub(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (halfvec, halfvec).
    let (a, b) = unsafe { half_pair(fcinfo) };
    elementwise(&a, &b, |x, y| x - y).0
}

/// `halfvec * halfvec` (element-wise); also ERROR when a product of non-zeros underflows to 0.
#[export_name = "vecmap_halfvec_mul"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_mul(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (halfvec, halfvec).
    let (a, b) = unsafe { half_pair(fcinfo) };
    let (datum, out) = elementwise(&a, &b, |x, y| x * y);
    for (i, &r) in out.iter().enumerate() {
        if hv::is_zero(r) && !(hv::is_zero(a.data[i]) || hv::is_zero(b.data[i])) {
            float_underflow_error();
        }
    }
    datum
}

/// `halfvec || halfvec`; ERROR above 16000 dimensions.
#[export_name = "vecmap_halfvec_concat"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_concat(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (halfvec, halfvec).
    let (a, b) = unsafe { half_pair(fcinfo) };
    check_dim(a.dim() + b.dim());
    let (datum, out) = new_halfvec(a.dim() + b.dim());
    out[..a.dim()].copy_from_slice(a.data);
    out[a.dim()..].copy_from_slice(b.data);
    datum
}

/// pgvector's order: elements (as f32) first, then the shorter vector is smaller.
fn compare(a: &HalfRef, b: &HalfRef) -> Ordering {
    for i in 0..a.dim().min(b.dim()) {
        let (x, y) = (a.get(i), b.get(i));
        if x < y {
            return Ordering::Less;
        }
        if x > y {
            return Ordering::Greater;
        }
    }
    a.dim().cmp(&b.dim())
}

macro_rules! comparison {
    ($name:ident, $doc:literal, $test:expr) => {
        binary_fn!("halfvec", half_pair, $name, $doc, |a, b| pg_sys::Datum::from(($test)(compare(&a, &b))));
    };
}

comparison!(halfvec_lt, "`halfvec < halfvec`", Ordering::is_lt);
comparison!(halfvec_le, "`halfvec <= halfvec`", Ordering::is_le);
comparison!(halfvec_eq, "`halfvec = halfvec`", Ordering::is_eq);
comparison!(halfvec_ne, "`halfvec <> halfvec`", Ordering::is_ne);
comparison!(halfvec_ge, "`halfvec >= halfvec`", Ordering::is_ge);
comparison!(halfvec_gt, "`halfvec > halfvec`", Ordering::is_gt);
comparison!(halfvec_cmp, "`halfvec_cmp(halfvec, halfvec) → int4` in {-1, 0, 1} (btree support 1).", |o: Ordering| o
    as i32);

/// `halfvec_accum(float8[], halfvec) → float8[]`: the `avg(halfvec)` transition (state
/// `{n, Σx…}` shared with `avg(vector)`, so `vector_combine` merges partials).
#[export_name = "vecmap_halfvec_accum"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_accum(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (float8[], halfvec).
    let (old, v) = unsafe { (state(arg(fcinfo, 0), "halfvec_accum"), HalfRef::arg(fcinfo, 1)) };
    let sums = &old[1..];
    if !sums.is_empty() {
        check_expected_dim(sums.len() as i32, v.dim());
    }
    let (datum, new) = new_state(old[0] + 1.0, v.dim());
    for (i, s) in new[1..].iter_mut().enumerate() {
        *s = if sums.is_empty() { v.get(i) as f64 } else { add_checked(sums[i], v.get(i) as f64) };
    }
    datum
}

/// `halfvec_avg(float8[]) → halfvec`: sums / n rounded to binary16; NULL for no rows.
#[export_name = "vecmap_halfvec_avg"]
#[pg_guard]
pub unsafe extern "C-unwind" fn halfvec_avg(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (float8[]).
    let s = unsafe { state(arg(fcinfo, 0), "halfvec_avg") };
    if s[0] == 0.0 {
        // SAFETY: fcinfo is valid for this call.
        return unsafe { return_null(fcinfo) };
    }
    check_dim(s.len() - 1);
    let (datum, out) = new_halfvec(s.len() - 1);
    for (r, sum) in out.iter_mut().zip(&s[1..]) {
        *r = to_half((sum / s[0]) as f32);
        check_element(*r);
    }
    datum
}
