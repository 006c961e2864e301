//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) and crash regressions
//! (`fuzz/regressions/<target>/`) through the fuzz targets' entry points, so `make test`
//! checks every input libFuzzer ever kept without needing cargo-fuzz or a nightly compiler.
use std::path::{Path, PathBuf};
use vecmap_engine::fuzz;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Every file under `fuzz/<kind>/<target>/`, sorted (missing directory: none).
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else { return Vec::new() };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
    v.sort();
    v
}

fn replay(target: &str, f: fn(&[u8])) {
    let corpus = inputs("corpus", target);
    assert!(!corpus.is_empty(), "fuzz/corpus/{target} is empty or missing");
    let all: Vec<PathBuf> = corpus.into_iter().chain(inputs("regressions", target)).collect();
    for p in &all {
        let data = std::fs::read(p).unwrap();
        let r = std::panic::catch_unwind(|| f(&data));
        assert!(r.is_ok(), "{target}: input {} fails", p.display());
    }
    eprintln!("{target}: {} inputs replayed", all.len());
}

#[test]
fn vector_text_corpus() {
    replay("vector_text", fuzz::vector_text);
}

#[test]
fn vector_recv_corpus() {
    replay("vector_recv", fuzz::vector_recv);
}

#[test]
fn typmod_corpus() {
    replay("typmod", fuzz::typmod);
}

#[test]
fn reloptions_corpus() {
    replay("reloptions", fuzz::reloptions);
}

#[test]
fn sidecar_corpus() {
    replay("sidecar", fuzz::sidecar);
    assert!(fuzz::seed_file_is_pristine(), "a sidecar input left its patch behind");
}

/// The seed sidecar itself loads and searches; a few hand-made corruptions are rejected
/// or survive the walk (the corpus holds many more).
#[test]
fn sidecar_seed_and_hand_made_corruptions() {
    fuzz::sidecar(&[]);
    fuzz::sidecar(&[0]);
    fuzz::sidecar(&[4]); // empty file
    fuzz::sidecar(&[4, b'V', b'E', b'C']); // short garbage
    fuzz::sidecar(&[8]); // truncated to nothing
    fuzz::sidecar(&[8 | (15 << 4)]); // truncated to 15/16
    // node_count (state offset 512 + 8) bumped past the mapped chunks, checksum kept valid.
    fuzz::sidecar(&patched(2, &[(520, 0xff), (521, 0xff), (522, 0xff)]));
    // entry point (state offset 512 + 24) out of range, checksum kept valid.
    fuzz::sidecar(&patched(2, &[(536, 0xff), (537, 0xff)]));
    // m (params offset 32) changed with a valid checksum: another index's file.
    fuzz::sidecar(&patched(1, &[(32, 9)]));
    // a layer-0 neighbour list and node infos overwritten anywhere in the first chunk.
    let junk: Vec<(u32, u8)> = (0..400u32).map(|i| ((2 << 30) | (45_000 + i * 97), (i * 31) as u8)).collect();
    fuzz::sidecar(&patched(0, &junk));
    assert!(fuzz::seed_file_is_pristine(), "patches and truncations are undone after each run");
}

/// A `sidecar` target input: `flags`, then one 5-byte record per (position, byte).
fn patched(flags: u8, recs: &[(u32, u8)]) -> Vec<u8> {
    let mut v = vec![flags];
    for &(pos, b) in recs {
        v.extend_from_slice(&pos.to_le_bytes());
        v.push(b);
    }
    v
}
