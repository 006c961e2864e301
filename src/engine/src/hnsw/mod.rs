//! HNSW (Malkov & Yashunin 2016, "Efficient and robust approximate nearest neighbor search
//! using Hierarchical Navigable Small World graphs") over a [`Sidecar`](crate::sidecar::Sidecar).
//!
//! Traversal uses int8 distances ([`crate::quant`]); results are reranked with exact f32
//! distances. Layer 0 keeps 2·M neighbours, upper layers M.
pub mod insert;
pub mod search;
pub mod visited;

pub use insert::{add_nodes, add_nodes_except, repair_graph, unreachable, Inserter, REACH_CHECK_NODES};
pub use search::{Scratch, SearchParams, Searcher};

use std::cmp::Ordering;

/// A node and its distance to the query (smaller is closer); ordered by distance then id.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cand {
    pub d: f32,
    pub id: u32,
}

impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Cand {
    fn cmp(&self, o: &Self) -> Ordering {
        self.d.total_cmp(&o.d).then(self.id.cmp(&o.id))
    }
}

/// Level of node `id`: ⌊−ln(u)·mL⌋ with mL = 1/ln(M) and u a hash of (build, id), so
/// re-applying an entry after an interrupted batch gives the node the same level.
pub fn node_level(build_id: u64, id: u32, m: usize) -> u8 {
    let mut x = build_id ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // splitmix64 finalizer
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    let u = ((x >> 11) as f64 + 1.0) / (1u64 << 53) as f64; // (0, 1]
    let ml = 1.0 / (m.max(2) as f64).ln();
    ((-u.ln() * ml).floor() as u32).min(crate::sidecar::format::MAX_LEVEL) as u8
}

#[cfg(test)]
mod tests;
