//! `sparsevec` distances (`<-> <#> <=> <+>`, exact, by index merge), `l2_norm`,
//! `l2_normalize` and pgvector's btree ordering.
use super::sparsevec::*;
use super::vector::{float8_datum, float_overflow_error};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cmp::Ordering;
use vecmap_engine::kernels::sparse;

pg_function_info_v1!(
    sparsevec_l2_distance,
    sparsevec_l2_squared_distance,
    sparsevec_inner_product,
    sparsevec_negative_inner_product,
    sparsevec_cosine_distance,
    sparsevec_l1_distance,
    sparsevec_l2_norm,
    sparsevec_l2_normalize,
    sparsevec_lt,
    sparsevec_le,
    sparsevec_eq,
    sparsevec_ne,
    sparsevec_ge,
    sparsevec_gt,
    sparsevec_cmp,
);

macro_rules! distance {
    ($name:ident, $doc:literal, |$a:ident, $b:ident| $body:expr) => {
        binary_fn!("sparsevec", sparse_pair, $name, $doc, |$a, $b| {
            check_same_dims(&$a, &$b);
            float8_datum($body)
        });
    };
}

distance!(sparsevec_l2_distance, "`l2_distance(sparsevec, sparsevec) → float8`, operator `<->`.", |a, b| {
    (sparse::l2sq(a.indices, a.values, b.indices, b.values) as f64).sqrt()
});
distance!(
    sparsevec_l2_squared_distance,
    "`sparsevec_l2_squared_distance(sparsevec, sparsevec) → float8`.",
    |a, b| sparse::l2sq(a.indices, a.values, b.indices, b.values) as f64
);
distance!(sparsevec_inner_product, "`inner_product(sparsevec, sparsevec) → float8`.", |a, b| {
    sparse::dot(a.indices, a.values, b.indices, b.values) as f64
});
distance!(
    sparsevec_negative_inner_product,
    "`sparsevec_negative_inner_product(sparsevec, sparsevec) → float8`, operator `<#>`.",
    |a, b| -sparse::dot(a.indices, a.values, b.indices, b.values) as f64
);
distance!(
    sparsevec_cosine_distance,
    "`cosine_distance(sparsevec, sparsevec) → float8`, operator `<=>`; NaN for a zero vector.",
    |a, b| sparse::cosine_distance(a.indices, a.values, b.indices, b.values)
);
distance!(sparsevec_l1_distance, "`l1_distance(sparsevec, sparsevec) → float8`, operator `<+>`.", |a, b| {
    sparse::l1(a.indices, a.values, b.indices, b.values) as f64
});

fn norm(s: &SparseRef) -> f64 {
    s.values.iter().fold(0.0f64, |n, &v| n + v as f64 * v as f64).sqrt()
}

/// `l2_norm(sparsevec) → float8`
#[export_name = "vecmap_sparsevec_l2_norm"]
#[pg_guard]
pub unsafe extern "C-unwind" fn sparsevec_l2_norm(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (sparsevec).
    let s = unsafe { SparseRef::arg(fcinfo, 0) };
    float8_datum(norm(&s))
}

/// `l2_normalize(sparsevec) → sparsevec`: x/‖x‖; elements that underflow to 0 are dropped;
/// ERROR on overflow.
#[export_name = "vecmap_sparsevec_l2_normalize"]
#[pg_guard]
pub unsafe extern "C-unwind" fn sparsevec_l2_normalize(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (sparsevec).
    let s = unsafe { SparseRef::arg(fcinfo, 0) };
    let n = norm(&s);
    if n == 0.0 {
        // pgvector returns the zero vector with its slots zeroed (no indices survive).
        let (datum, _, _) = new_sparsevec(s.dim, s.indices.len());
        return datum;
    }
    let scaled: Vec<f32> = s.values.iter().map(|&v| (v as f64 / n) as f32).collect();
    if scaled.iter().any(|v| v.is_infinite()) {
        float_overflow_error();
    }
    let kept = scaled.iter().filter(|v| **v != 0.0).count();
    let (datum, idx, val) = new_sparsevec(s.dim, kept);
    for (k, (i, v)) in s.indices.iter().zip(&scaled).filter(|(_, v)| **v != 0.0).enumerate() {
        idx[k] = *i;
        val[k] = *v;
    }
    datum
}

/// pgvector's sparsevec order: like comparing the dense forms element by element, then dims.
fn compare(a: &SparseRef, b: &SparseRef) -> Ordering {
    let sign = |v: f32| if v < 0.0 { Ordering::Less } else { Ordering::Greater };
    let nnz = a.indices.len().min(b.indices.len());
    for k in 0..nnz {
        if a.indices[k] < b.indices[k] {
            return sign(a.values[k]);
        }
        if a.indices[k] > b.indices[k] {
            return sign(b.values[k]).reverse();
        }
        if a.values[k] < b.values[k] {
            return Ordering::Less;
        }
        if a.values[k] > b.values[k] {
            return Ordering::Greater;
        }
    }
    if a.indices.len() < b.indices.len() && b.indices[nnz] < a.dim {
        return sign(b.values[nnz]).reverse();
    }
    if a.indices.len() > b.indices.len() && a.indices[nnz] < b.dim {
        return sign(a.values[nnz]);
    }
    a.dim.cmp(&b.dim)
}

macro_rules! comparison {
    ($name:ident, $doc:literal, $test:expr) => {
        binary_fn!("sparsevec", sparse_pair, $name, $doc, |a, b| pg_sys::Datum::from(($test)(compare(&a, &b))));
    };
}

comparison!(sparsevec_lt, "`sparsevec < sparsevec`", Ordering::is_lt);
comparison!(sparsevec_le, "`sparsevec <= sparsevec`", Ordering::is_le);
comparison!(sparsevec_eq, "`sparsevec = sparsevec`", Ordering::is_eq);
comparison!(sparsevec_ne, "`sparsevec <> sparsevec`", Ordering::is_ne);
comparison!(sparsevec_ge, "`sparsevec >= sparsevec`", Ordering::is_ge);
comparison!(sparsevec_gt, "`sparsevec > sparsevec`", Ordering::is_gt);
comparison!(
    sparsevec_cmp,
    "`sparsevec_cmp(sparsevec, sparsevec) → int4` in {-1, 0, 1} (btree support 1).",
    |o: Ordering| o as i32
);
