//! Distances between vectors (`<->`, `<#>`, `<=>`, `<+>` and the index support functions),
//! all on the engine's SIMD kernels with pgvector's f32 accumulation and f64 result.
use super::vector::*;
use vecmap_engine::kernels;

pg_function_info_v1!(
    l2_distance,
    vector_l2_squared_distance,
    inner_product,
    vector_negative_inner_product,
    cosine_distance,
    vector_spherical_distance,
    l1_distance,
);

macro_rules! distance {
    ($name:ident, $doc:literal, |$a:ident, $b:ident| $body:expr) => {
        binary_fn!("vector", vector_pair, $name, $doc, |x, y| {
            check_same_dims(&x, &y);
            let ($a, $b) = (x.data, y.data);
            float8_datum($body)
        });
    };
}

distance!(l2_distance, "`l2_distance(vector, vector) → float8`, operator `<->`: √Σ(aᵢ−bᵢ)².", |a, b| {
    (kernels::l2sq(a, b) as f64).sqrt()
});
distance!(
    vector_l2_squared_distance,
    "`vector_l2_squared_distance(vector, vector) → float8`: Σ(aᵢ−bᵢ)².",
    |a, b| kernels::l2sq(a, b) as f64
);
distance!(inner_product, "`inner_product(vector, vector) → float8`: Σaᵢbᵢ.", |a, b| kernels::dot(a, b) as f64);
distance!(
    vector_negative_inner_product,
    "`vector_negative_inner_product(vector, vector) → float8`, operator `<#>`: −Σaᵢbᵢ.",
    |a, b| -kernels::dot(a, b) as f64
);
distance!(
    cosine_distance,
    "`cosine_distance(vector, vector) → float8`, operator `<=>`: 1 − cos, in [0, 2]; NaN for a zero vector.",
    |a, b| kernels::cosine_distance(a, b)
);
distance!(
    vector_spherical_distance,
    "`vector_spherical_distance(vector, vector) → float8`: acos(a·b)/π for unit vectors, in [0, 1].",
    |a, b| (kernels::dot(a, b) as f64).clamp(-1.0, 1.0).acos() / std::f64::consts::PI
);
distance!(l1_distance, "`l1_distance(vector, vector) → float8`, operator `<+>`: Σ|aᵢ−bᵢ|.", |a, b| {
    kernels::l1(a, b) as f64
});
