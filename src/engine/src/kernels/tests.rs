use super::*;
use rand::{Rng, SeedableRng};

fn rng() -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(7)
}

fn close(a: f32, b: f32, scale: f32) -> bool {
    a == b || (a - b).abs() <= 1e-5 * scale.max(1e-30) + 1e-30
}

/// Every length 0..=130 (all tails) plus large sizes, at magnitudes 1e-20..1e18.
fn f32_cases() -> Vec<(Vec<f32>, Vec<f32>)> {
    let mut r = rng();
    let mut out = Vec::new();
    for &mag in &[1e-20f32, 1e-3, 1.0, 1e3, 1e18] {
        for n in (0..=130).chain([383, 384, 385, 1536, 3072, 16000]) {
            let a: Vec<f32> = (0..n).map(|_| r.random_range(-1.0..1.0) * mag).collect();
            let b: Vec<f32> = (0..n).map(|_| r.random_range(-1.0..1.0) * mag).collect();
            out.push((a, b));
        }
    }
    out
}

fn check_f32(name: &str, f: fn(&[f32], &[f32]) -> f32, reference: fn(&[f32], &[f32]) -> f32, abs_ref: fn(&[f32], &[f32]) -> f32) {
    for (a, b) in f32_cases() {
        let (got, want) = (f(&a, &b), reference(&a, &b));
        // Error bound relative to the sum of magnitudes of the terms.
        let scale = abs_ref(&a, &b);
        assert!(close(got, want, scale), "{name} n={} got {got} want {want} scale {scale}", a.len());
    }
}

fn abs_dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x * y).abs()).sum()
}

fn i8_cases() -> Vec<(Vec<i8>, Vec<i8>)> {
    let mut r = rng();
    let mut out = Vec::new();
    for n in (0..=130).chain([384, 1000, 3072, 16000]) {
        out.push(((0..n).map(|_| r.random_range(-127..=127)).collect(), (0..n).map(|_| r.random_range(-127..=127)).collect()));
        // All-extreme inputs: the sums that would saturate a careless i16 path.
        out.push((vec![127; n], vec![127; n]));
        out.push((vec![-127; n], vec![-127; n]));
        out.push((vec![127; n], vec![-127; n]));
        out.push(((0..n).map(|i| if i % 2 == 0 { 127 } else { -127 }).collect(), vec![-127; n]));
    }
    out
}

#[test]
fn scalar_reference_is_sane() {
    assert_eq!(scalar::dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 32.0);
    assert_eq!(scalar::l2sq(&[1.0, 2.0], &[4.0, 6.0]), 25.0);
    assert_eq!(scalar::l1(&[1.0, -2.0], &[4.0, 6.0]), 11.0);
    assert_eq!(scalar::dot_i8(&[127; 16000], &[-127; 16000]), -127 * 127 * 16000);
}

#[test]
fn dispatched_matches_scalar() {
    check_f32("dot", dot, scalar::dot, abs_dot);
    check_f32("l2sq", l2sq, scalar::l2sq, scalar::l2sq);
    check_f32("l1", l1, scalar::l1, scalar::l1);
    for (a, b) in i8_cases() {
        assert_eq!(dot_i8(&a, &b), scalar::dot_i8(&a, &b), "n={}", a.len());
    }
}

#[test]
fn avx2_matches_scalar() {
    if !avx2::available() {
        eprintln!("AVX2+FMA not available on this CPU: skipped");
        return;
    }
    check_f32("avx2 dot", avx2::dot, scalar::dot, abs_dot);
    check_f32("avx2 l2sq", avx2::l2sq, scalar::l2sq, scalar::l2sq);
    check_f32("avx2 l1", avx2::l1, scalar::l1, scalar::l1);
    for (a, b) in i8_cases() {
        assert_eq!(avx2::dot_i8(&a, &b), scalar::dot_i8(&a, &b), "n={}", a.len());
    }
}

#[test]
fn avx512_matches_scalar() {
    if avx512::f32_available() {
        check_f32("avx512 dot", avx512::dot, scalar::dot, abs_dot);
        check_f32("avx512 l2sq", avx512::l2sq, scalar::l2sq, scalar::l2sq);
        check_f32("avx512 l1", avx512::l1, scalar::l1, scalar::l1);
    } else {
        eprintln!("AVX-512F not available on this CPU: f32 path skipped");
    }
    if avx512::vnni_available() {
        for (a, b) in i8_cases() {
            assert_eq!(avx512::dot_i8(&a, &b), scalar::dot_i8(&a, &b), "n={}", a.len());
        }
    } else {
        eprintln!("AVX-512 VNNI not available on this CPU: int8 path skipped");
    }
}

#[test]
fn cosine_like_pgvector() {
    assert!((cosine_distance(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-12);
    assert!(cosine_distance(&[1.0, 1.0], &[2.0, 2.0]).abs() < 1e-7);
    assert!(cosine_distance(&[0.0, 0.0], &[1.0, 1.0]).is_nan());
    assert!((cosine_distance(&[1.0, 0.0], &[-1.0, 0.0]) - 2.0).abs() < 1e-12);
}
