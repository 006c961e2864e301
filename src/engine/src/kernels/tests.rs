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

/// binary16 rows: every length 0..=130 plus large ones, at magnitudes from subnormal to near
/// the half maximum, with f32 reference results computed on the converted values.
fn f16_cases() -> Vec<(Vec<u16>, Vec<u16>)> {
    let mut r = rng();
    let mut out = Vec::new();
    for &mag in &[1e-6f32, 1e-2, 1.0, 100.0, 60000.0] {
        for n in (0..=130).chain([383, 384, 385, 1536, 3072, 16000]) {
            let mut row = || (0..n).map(|_| half::f16::from_f32(r.random_range(-1.0..1.0) * mag).to_bits()).collect();
            out.push((row(), row()));
        }
    }
    out
}

fn widen(x: &[u16]) -> Vec<f32> {
    x.iter().map(|&h| scalar::h2f(h)).collect()
}

fn check_f16(name: &str, f: fn(&[u16], &[u16]) -> f32, reference: fn(&[f32], &[f32]) -> f32, abs_ref: fn(&[f32], &[f32]) -> f32) {
    for (a, b) in f16_cases() {
        let (wa, wb) = (widen(&a), widen(&b));
        let (got, want) = (f(&a, &b), reference(&wa, &wb));
        let scale = abs_ref(&wa, &wb);
        assert!(close(got, want, scale) || (got.is_infinite() && want.is_infinite()), "{name} n={} got {got} want {want}", a.len());
    }
}

fn bit_cases() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut r = rng();
    let mut out = Vec::new();
    for n in (0..=70).chain([192, 1000, 2000]) {
        out.push(((0..n).map(|_| r.random()).collect(), (0..n).map(|_| r.random()).collect()));
        out.push((vec![0xff; n], vec![0; n]));
        out.push((vec![0; n], vec![0; n]));
    }
    out
}

/// Bit-by-bit reference for the popcount kernels.
fn naive_bits(a: &[u8], b: &[u8]) -> (u64, u64, u64, u64) {
    let bit = |x: &[u8], i: usize| (x[i / 8] >> (7 - i % 8)) & 1 == 1;
    let (mut ham, mut ab, mut aa, mut bb) = (0, 0, 0, 0);
    for i in 0..a.len() * 8 {
        let (x, y) = (bit(a, i), bit(b, i));
        ham += (x != y) as u64;
        ab += (x && y) as u64;
        aa += x as u64;
        bb += y as u64;
    }
    (ham, ab, aa, bb)
}

#[test]
fn f16_scalar_matches_widened_f32() {
    check_f16("scalar dot_f16", scalar::dot_f16, scalar::dot, abs_dot);
    check_f16("scalar l2sq_f16", scalar::l2sq_f16, scalar::l2sq, scalar::l2sq);
    check_f16("scalar l1_f16", scalar::l1_f16, scalar::l1, scalar::l1);
    // Exact on small values: 1·4 + 2·5 + 3·6.
    let h = |v: &[f32]| v.iter().map(|&x| half::f16::from_f32(x).to_bits()).collect::<Vec<_>>();
    assert_eq!(dot_f16(&h(&[1.0, 2.0, 3.0]), &h(&[4.0, 5.0, 6.0])), 32.0);
    assert_eq!(l2sq_f16(&h(&[1.0, 2.0]), &h(&[4.0, 6.0])), 25.0);
    assert_eq!(l1_f16(&h(&[1.0, -2.0]), &h(&[4.0, 6.0])), 11.0);
    assert!(cosine_distance_f16(&h(&[0.0, 0.0]), &h(&[1.0, 1.0])).is_nan());
}

#[test]
fn f16_avx2_matches_scalar() {
    if !avx2::f16_available() {
        eprintln!("AVX2+FMA+F16C not available on this CPU: skipped");
        return;
    }
    check_f16("avx2 dot_f16", avx2::dot_f16, scalar::dot, abs_dot);
    check_f16("avx2 l2sq_f16", avx2::l2sq_f16, scalar::l2sq, scalar::l2sq);
    check_f16("avx2 l1_f16", avx2::l1_f16, scalar::l1, scalar::l1);
}

#[test]
fn popcount_kernels_match_bitwise_reference() {
    let mut kernels: Vec<(&str, fn(&[u8], &[u8]) -> u64, fn(&[u8], &[u8]) -> (u64, u64, u64))> =
        vec![("scalar", scalar::hamming, scalar::jaccard_counts)];
    if avx2::popcnt_available() {
        kernels.push(("popcnt", avx2::hamming, avx2::jaccard_counts));
    } else {
        eprintln!("POPCNT not available on this CPU: skipped");
    }
    for (a, b) in bit_cases() {
        let (ham, ab, aa, bb) = naive_bits(&a, &b);
        for (name, h, j) in &kernels {
            assert_eq!(h(&a, &b), ham, "{name} hamming n={}", a.len());
            assert_eq!(j(&a, &b), (ab, aa, bb), "{name} jaccard n={}", a.len());
        }
    }
    assert_eq!(jaccard_distance(&[0b1100_0000], &[0b1010_0000]), 1.0 - 1.0 / 3.0);
    assert_eq!(jaccard_distance(&[0], &[0]), 1.0);
    assert_eq!(hamming(&[0b1111_0000], &[0b0000_1111]), 8);
}
