//! Element-wise arithmetic (`+ - *`), concatenation (`||`) and the btree ordering
//! (`< <= = <> >= >`, `vector_cmp`) of `vector`.
use super::vector::*;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cmp::Ordering;

pg_function_info_v1!(
    vector_add, vector_sub, vector_mul, vector_concat, vector_lt, vector_le, vector_eq, vector_ne, vector_ge,
    vector_gt, vector_cmp,
);

/// Applies `f` element-wise; ERROR on dimension mismatch or a result of ±Inf.
fn elementwise<'a>(a: &VectorRef, b: &VectorRef, f: impl Fn(f32, f32) -> f32) -> (pg_sys::Datum, &'a [f32]) {
    check_same_dims(a, b);
    let (datum, out) = new_vector(a.dim());
    for ((r, x), y) in out.iter_mut().zip(a.data).zip(b.data) {
        *r = f(*x, *y);
    }
    if out.iter().any(|r| r.is_infinite()) {
        float_overflow_error();
    }
    (datum, out)
}

/// `vector + vector`; ERROR on dimension mismatch or overflow to ±Inf.
#[export_name = "vecmap_vector_add"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_add(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (vector, vector).
    let (a, b) = unsafe { vector_pair(fcinfo) };
    elementwise(&a, &b, |x, y| x + y).0
}

/// `vector - vector`; ERROR on dimension mismatch or overflow to ±Inf.
#[export_name = "vecmap_vector_sub"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_sub(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (vector, vector).
    let (a, b) = unsafe { vector_pair(fcinfo) };
    elementwise(&a, &b, |x, y| x - y).0
}

/// `vector * vector` (element-wise); ERROR on mismatch, overflow, or underflow of a
/// product of non-zero elements to 0.
#[export_name = "vecmap_vector_mul"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_mul(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (vector, vector).
    let (a, b) = unsafe { vector_pair(fcinfo) };
    let (datum, out) = elementwise(&a, &b, |x, y| x * y);
    for ((r, x), y) in out.iter().zip(a.data).zip(b.data) {
        if *r == 0.0 && !(*x == 0.0 || *y == 0.0) {
            float_underflow_error();
        }
    }
    datum
}

/// `vector || vector`; ERROR when the result exceeds 16000 dimensions.
#[export_name = "vecmap_vector_concat"]
#[pg_guard]
pub unsafe extern "C-unwind" fn vector_concat(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (vector, vector).
    let (a, b) = unsafe { vector_pair(fcinfo) };
    check_dim(a.dim() + b.dim());
    let (datum, out) = new_vector(a.dim() + b.dim());
    out[..a.dim()].copy_from_slice(a.data);
    out[a.dim()..].copy_from_slice(b.data);
    datum
}

/// pgvector's order: elements first (like arrays), then the shorter vector is smaller.
pub fn compare(a: &[f32], b: &[f32]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        if x < y {
            return Ordering::Less;
        }
        if x > y {
            return Ordering::Greater;
        }
    }
    a.len().cmp(&b.len())
}

macro_rules! comparison {
    ($name:ident, $doc:literal, $test:expr) => {
        binary_fn!("vector", vector_pair, $name, $doc, |a, b| pg_sys::Datum::from(($test)(compare(a.data, b.data))));
    };
}

comparison!(vector_lt, "`vector < vector`", Ordering::is_lt);
comparison!(vector_le, "`vector <= vector`", Ordering::is_le);
comparison!(vector_eq, "`vector = vector`", Ordering::is_eq);
comparison!(vector_ne, "`vector <> vector`", Ordering::is_ne);
comparison!(vector_ge, "`vector >= vector`", Ordering::is_ge);
comparison!(vector_gt, "`vector > vector`", Ordering::is_gt);

comparison!(vector_cmp, "`vector_cmp(vector, vector) → int4` in {-1, 0, 1}: btree support function 1.", |o: Ordering| o
    as i32);
