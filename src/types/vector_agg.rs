//! `avg(vector)` support: the state is pgvector's `float8[]` `{n, Σx₁, …, Σx_d}` (`{0}` before
//! the first row), so partial aggregates combine in parallel plans. `sum(vector)` needs no
//! code: it folds with `vector_add`.
use super::array::{new_array, ArrayRef};
use super::vector::*;
use crate::fmgr::{arg, return_null};
use pgrx::pg_sys;
use pgrx::prelude::*;

pg_function_info_v1!(vector_accum, vector_combine, vector_avg);

/// The state array's values `[n, sums…]`, after pgvector's sanity checks
/// ("<caller>: expected state array").
///
/// # Safety
/// `datum` must be a non-null array datum.
pub(crate) unsafe fn state<'a>(datum: pg_sys::Datum, caller: &str) -> &'a [f64] {
    // SAFETY: forwarded from the caller.
    let a = unsafe { ArrayRef::from_datum(datum) };
    if a.ndim() != 1 || a.len() < 1 || a.has_null_bitmap() || a.elemtype() != pg_sys::FLOAT8OID {
        ereport!(ERROR, PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("{caller}: expected state array"));
    }
    // SAFETY: checked just above: 1-D, no nulls, float8.
    unsafe { a.float8s() }
}

/// A new state `[n, sums…]` with `dim` sums.
pub(crate) fn new_state<'a>(n: f64, dim: usize) -> (pg_sys::Datum, &'a mut [f64]) {
    let (datum, s) = new_array::<f64>(pg_sys::FLOAT8OID, dim + 1);
    s[0] = n;
    (datum, s)
}

/// Adds two sums, ERROR "value out of range: overflow" on ±Inf.
pub(crate) fn add_checked(a: f64, b: f64) -> f64 {
    let v = a + b;
    if v.is_infinite() {
        float_overflow_error();
    }
    v
}

/// `vector_accum(float8[], vector) → float8[]`: adds one vector to the state; ERROR on a
/// dimension change ("expected 2 dimensions, not 1") or overflow.
#[export_name = "vecmap_vector_accum"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_accum(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (float8[], vector).
    let (old, v) = unsafe { (state(arg(fcinfo, 0), "vector_accum"), VectorRef::arg(fcinfo, 1)) };
    let sums = &old[1..];
    if !sums.is_empty() {
        check_expected_dim(sums.len() as i32, v.dim());
    }
    let (datum, new) = new_state(old[0] + 1.0, v.dim());
    if sums.is_empty() {
        new[1..].iter_mut().zip(v.data).for_each(|(s, x)| *s = *x as f64);
    } else {
        new[1..].iter_mut().zip(sums).zip(v.data).for_each(|((s, a), x)| *s = add_checked(*a, *x as f64));
    }
    datum
}

/// `vector_combine(float8[], float8[]) → float8[]`: merges two partial states.
#[export_name = "vecmap_vector_combine"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_combine(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (float8[], float8[]).
    let (s1, s2) = unsafe { (state(arg(fcinfo, 0), "vector_combine"), state(arg(fcinfo, 1), "vector_combine")) };
    let (a, b) = (&s1[1..], &s2[1..]);
    if !a.is_empty() && !b.is_empty() {
        check_dim(a.len());
        check_expected_dim(a.len() as i32, b.len());
    } else if !a.is_empty() || !b.is_empty() {
        check_dim(a.len().max(b.len()));
    }
    let (datum, new) = new_state(s1[0] + s2[0], a.len().max(b.len()));
    match (a.is_empty(), b.is_empty()) {
        (true, _) => new[1..].copy_from_slice(b),
        (_, true) => new[1..].copy_from_slice(a),
        _ => new[1..].iter_mut().zip(a).zip(b).for_each(|((s, x), y)| *s = add_checked(*x, *y)),
    }
    datum
}

/// `vector_avg(float8[]) → vector`: sums / n; NULL when no rows were aggregated.
#[export_name = "vecmap_vector_avg"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_avg(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (float8[]).
    let s = unsafe { state(arg(fcinfo, 0), "vector_avg") };
    let n = s[0];
    if n == 0.0 {
        // SAFETY: fcinfo is valid for this call.
        return unsafe { return_null(fcinfo) };
    }
    check_dim(s.len() - 1);
    let (datum, out) = new_vector(s.len() - 1);
    for (r, sum) in out.iter_mut().zip(&s[1..]) {
        *r = (sum / n) as f32;
        check_element(*r);
    }
    datum
}
