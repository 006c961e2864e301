//! The search hot path allocates nothing per query once its `Scratch` is warm (issue #3): a
//! counting global allocator (per thread, so other test threads don't count) around
//! `Searcher::new` + `next_batch`. The heaps grow to the largest query's working size, and the
//! parallel build makes the graph (so that size) vary from run to run: the warm-up pass runs every
//! query once, and the counted pass runs them all again.
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64};
use vecmap_engine::hnsw::{add_nodes, Scratch, SearchParams, Searcher};
use vecmap_engine::quant::Quantizer;
use vecmap_engine::sidecar::{Identity, Sidecar};
use vecmap_engine::Metric;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a const-initialised thread-local.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCS.with(|c| c.get())
}

#[test]
fn warm_search_allocates_nothing() {
    let (n, dims) = (3000usize, 32usize);
    let mut s = 11u64;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let centres: Vec<f32> = (0..16 * dims).map(|_| next() * 4.0).collect();
    let data: Vec<f32> = (0..n * dims).map(|j| centres[(j / dims % 16) * dims + j % dims] + next()).collect();
    let dir = tempfile::tempdir().unwrap();
    let id = Identity { build_id: 1, dims: dims as u32, metric: Metric::L2, m: 16, ef_construction: 64 };
    let mut sc = Sidecar::create(&dir.path().join("alloc"), id).unwrap();
    sc.reserve(n as u64, 0).unwrap();
    for (i, v) in data.chunks_exact(dims).enumerate() {
        sc.write_vector(i as u32, [0, 0, i as u16], v);
    }
    sc.set_quantizer(Quantizer::fit(&data, dims));
    add_nodes(&mut sc, 0, n as u32, None, &AtomicU64::new(0), &AtomicBool::new(false)).unwrap();
    sc.publish().unwrap();

    let queries: Vec<Vec<f32>> = (0..50).map(|i| data[i * 53 * dims..(i * 53 + 1) * dims].iter().map(|x| x + 0.01).collect()).collect();
    let mut scratch = Scratch::default();
    let run = |q: &[f32], scratch: &mut Scratch| {
        let mut srch = Searcher::new(&sc, q, scratch).unwrap();
        let got = srch.next_batch(&sc, scratch, SearchParams { ef: 64 }).len();
        assert!(got > 0);
    };
    let cold = allocations();
    for q in &queries {
        run(q, &mut scratch); // warm-up: the scratch buffers grow to their working size
    }
    let before = allocations();
    assert!(before > cold, "the counter sees the warm-up growing the scratch");
    for q in &queries {
        run(q, &mut scratch);
    }
    assert_eq!(allocations() - before, 0, "allocations during 50 warm searches");
}
