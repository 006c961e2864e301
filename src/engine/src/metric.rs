//! Distance metrics as the index sees them: smaller is closer for all of them.
use crate::kernels;

/// The operator family an index was built for (pgvector's `vector_*_ops`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Metric {
    /// `<->`, ordered by squared L2 distance.
    L2 = 1,
    /// `<#>`, negative inner product.
    InnerProduct = 2,
    /// `<=>`, 1 − cosine similarity; vectors are L2-normalized when stored.
    Cosine = 3,
    /// `<%>` on bit strings stored as 0/1 values: 1 − |a∧b| / |a∨b| (1 when a∧b is empty).
    Jaccard = 4,
}

impl Metric {
    pub fn from_u32(v: u32) -> Option<Metric> {
        match v {
            1 => Some(Metric::L2),
            2 => Some(Metric::InnerProduct),
            3 => Some(Metric::Cosine),
            4 => Some(Metric::Jaccard),
            _ => None,
        }
    }

    /// Prepares a vector for storage or querying: cosine normalizes, others copy.
    /// Returns false when the vector cannot be indexed (zero norm under cosine, non-finite).
    pub fn prepare(self, v: &[f32], out: &mut Vec<f32>) -> bool {
        out.clear();
        out.extend_from_slice(v);
        if self == Metric::Cosine {
            let n = kernels::dot(v, v).sqrt();
            if !(n > 0.0) || !n.is_finite() {
                return false;
            }
            out.iter_mut().for_each(|x| *x /= n);
        }
        out.iter().all(|x| x.is_finite())
    }

    /// Exact distance between prepared vectors, used for rerank and tail scans.
    #[inline]
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::L2 => kernels::l2sq(a, b),
            Metric::InnerProduct => -kernels::dot(a, b),
            Metric::Cosine => 1.0 - kernels::dot(a, b),
            Metric::Jaccard => jaccard(kernels::dot(a, b), kernels::dot(a, a), kernels::dot(b, b)),
        }
    }
}

/// Jaccard distance from |a∧b|, |a|, |b| (exact for 0/1 vectors; also used on estimates).
#[inline]
pub fn jaccard(ab: f32, aa: f32, bb: f32) -> f32 {
    if ab <= 0.0 {
        return 1.0;
    }
    (1.0 - ab as f64 / (aa as f64 + bb as f64 - ab as f64)) as f32
}
