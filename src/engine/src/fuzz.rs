//! Entry points of the fuzz targets in `fuzz/` (cargo-fuzz, libFuzzer). Each takes arbitrary
//! bytes, drives one parser or loader, and panics only when an invariant breaks: errors are
//! fine, wrong answers, panics and out-of-bounds reads are not. `tests/fuzz_corpus.rs` replays
//! the committed corpora through the same functions in a plain `cargo test`.
use crate::hnsw::{add_nodes, Scratch, SearchParams, Searcher};
use crate::options;
use crate::quant::Quantizer;
use crate::sidecar::format::{params_crc, state_crc, Geometry, Params, State, HEADER_SIZE, MAX_LEVEL, PARAMS_OFFSET, STATE_OFFSET};
use crate::sidecar::{Identity, Sidecar};
use crate::textio::vector::{encode_binary, parse_binary, parse_text, parse_typmod, VECTOR_MAX_DIM};
use crate::{stats, Metric};
use std::ffi::CString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

/// The text parser (`vector_in`): the input up to its first NUL is the literal (a cstring
/// never holds one). Accepted vectors have 1..=16000 finite elements and survive a round trip.
pub fn vector_text(data: &[u8]) {
    let lit = data.split(|&b| b == 0).next().unwrap_or_default();
    let lit = CString::new(lit).expect("no NUL left");
    let Ok(v) = parse_text(&lit, -1) else { return };
    assert!((1..=VECTOR_MAX_DIM).contains(&v.len()));
    assert!(v.iter().all(|x| x.is_finite()));
    // `{:e}` prints the shortest form that reads back to the same f32.
    let again = format!("[{}]", v.iter().map(|x| format!("{x:e}")).collect::<Vec<_>>().join(","));
    let back = parse_text(&CString::new(again).unwrap(), v.len() as i32).expect("printed vector parses");
    assert!(v.iter().zip(&back).all(|(a, b)| a.to_bits() == b.to_bits()));
}

/// The binary receive function (`vector_recv`): byte 0 picks the typmod (high bit set: its low
/// 7 bits; else none), the rest is the message. Accepted input re-encodes to the bytes read.
pub fn vector_recv(data: &[u8]) {
    let Some((&t, msg)) = data.split_first() else { return };
    let typmod = if t & 0x80 != 0 { (t & 0x7f) as i32 } else { -1 };
    let Ok((v, used)) = parse_binary(msg, typmod) else { return };
    assert!((1..=VECTOR_MAX_DIM).contains(&v.len()) && v.iter().all(|x| x.is_finite()));
    assert!(typmod == -1 || typmod as usize == v.len());
    assert_eq!(used, 4 + 4 * v.len());
    let mut out = Vec::new();
    encode_binary(&v, &mut out);
    assert_eq!(out, msg[..used]);
}

/// Typmod input (`vector_typmod_in`): the bytes as little-endian int32 modifiers.
pub fn typmod(data: &[u8]) {
    let mods: Vec<i32> = data.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect();
    if let Ok(n) = parse_typmod(&mods) {
        assert!(mods.len() == 1 && (1..=VECTOR_MAX_DIM as i32).contains(&n));
    }
}

/// Reloptions (`amoptions`) and what they feed: (m, ef_construction, dims) as three
/// little-endian int32s. Accepted options give a sidecar geometry with 64-byte aligned rows and
/// room for at least a million nodes of any dimension the type allows.
pub fn reloptions(data: &[u8]) {
    let mut w = data.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap()));
    let (Some(m), Some(efc)) = (w.next(), w.next()) else { return };
    let dims = w.next().unwrap_or(3).unsigned_abs() as usize % VECTOR_MAX_DIM + 1;
    if options::validate(m, efc).is_err() {
        return;
    }
    assert!(m >= 2 && efc >= 2 * m);
    let g = Geometry::new(dims, m as usize);
    for s in [g.i8_stride, g.l0_stride, g.f32_stride, g.upper_stride] {
        assert!(s > 0 && s.is_multiple_of(64));
    }
    assert!(g.codes >= dims && g.m0 == 2 * m as usize);
    assert!(g.node_chunks.capacity() >= 1_000_000);
    let l = g.node_chunk_layout(g.node_chunks.size(0) as usize);
    assert!(l.l0_off <= l.info_off && l.info_off <= l.f32_off && l.f32_off <= l.bytes && l.bytes.is_multiple_of(4096));
}

/// Identity of the seed sidecar the `sidecar` target mutates.
const SEED_ID: Identity = Identity { build_id: 0x5eed, dims: 8, metric: Metric::L2, m: 4, ef_construction: 16 };
const SEED_NODES: u32 = 300;

fn scratch_path() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    dir.join(format!("vecmap-fuzz-{}-{}.vmap", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
}

/// Removes the file when dropped (also when an assertion unwinds).
struct TempFile(PathBuf);
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A valid, published sidecar of `SEED_NODES` pseudo-random nodes with a few tombstones,
/// timestamps zeroed so the bytes (and so every corpus entry's meaning) are reproducible.
fn seed() -> &'static [u8] {
    static SEED: OnceLock<Vec<u8>> = OnceLock::new();
    SEED.get_or_init(|| {
        let tmp = TempFile(scratch_path());
        let dims = SEED_ID.dims as usize;
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let data: Vec<f32> = (0..SEED_NODES as usize * dims)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        {
            let mut sc = Sidecar::create(&tmp.0, SEED_ID).expect("create seed");
            sc.reserve(SEED_NODES as u64, 0).unwrap();
            for (i, v) in data.chunks_exact(dims).enumerate() {
                sc.write_vector(i as u32, [0, 0, i as u16 + 1], v);
            }
            sc.set_quantizer(Quantizer::fit(&data, dims));
            add_nodes(&mut sc, 0, SEED_NODES, None, &AtomicU64::new(0), &AtomicBool::new(false)).unwrap();
            for id in [3, 77, 150] {
                sc.set_deleted(id);
            }
            sc.state_mut().deleted = 3;
            sc.publish().unwrap();
        }
        let mut bytes = std::fs::read(&tmp.0).unwrap();
        let mut p: Params = bytemuck::pod_read_unaligned(&bytes[PARAMS_OFFSET..PARAMS_OFFSET + size_of::<Params>()]);
        p.created_unix = 0;
        p.params_crc = params_crc(&p);
        bytes[PARAMS_OFFSET..PARAMS_OFFSET + size_of::<Params>()].copy_from_slice(bytemuck::bytes_of(&p));
        let mut s: State = bytemuck::pod_read_unaligned(&bytes[STATE_OFFSET..STATE_OFFSET + size_of::<State>()]);
        s.built_unix = 0;
        s.seq = 2;
        s.state_crc = state_crc(&s);
        bytes[STATE_OFFSET..STATE_OFFSET + size_of::<State>()].copy_from_slice(bytemuck::bytes_of(&s));
        bytes
    })
}

/// How the `sidecar` target's input turns into a file. Byte 0 is a set of flags:
/// - bit 2: the rest of the input is the whole file (raw bytes);
/// - otherwise the file is the seed sidecar patched by 5-byte records (u32 LE position, byte):
///   the position's top two bits aim at the params+state (0), the header and centre (1) or
///   anywhere (2, 3);
/// - bit 3: truncate the file to (flags >> 4)/16 of its length;
/// - bits 0 and 1: recompute the params / state checksum afterwards, so corruption that keeps
///   checksums valid (the harder case) is explored too.
enum Plan {
    Raw(Vec<u8>),
    Patched { writes: Vec<(usize, u8)>, truncate: Option<usize>, fix_params: bool, fix_state: bool },
}

fn plan(data: &[u8]) -> Plan {
    let Some((&flags, rest)) = data.split_first() else {
        return Plan::Patched { writes: Vec::new(), truncate: None, fix_params: false, fix_state: false };
    };
    if flags & 4 != 0 {
        return Plan::Raw(rest.to_vec());
    }
    let len = seed().len();
    let head = HEADER_SIZE + Geometry::new(SEED_ID.dims as usize, SEED_ID.m as usize).centre_bytes();
    let writes = rest
        .chunks_exact(5)
        .map(|r| {
            let pos = u32::from_le_bytes(r[..4].try_into().unwrap());
            let off = (pos & 0x3fff_ffff) as usize;
            let at = match pos >> 30 {
                0 => off % 1024,
                1 => off % head,
                _ => off % len,
            };
            (at, r[4])
        })
        .collect();
    let truncate = (flags & 8 != 0).then(|| len * (flags >> 4) as usize / 16);
    Plan::Patched { writes, truncate, fix_params: flags & 1 != 0, fix_state: flags & 2 != 0 }
}

/// The first 1024 bytes (params and state) of the seed with `writes` applied and the asked
/// checksums recomputed.
fn patched_head(writes: &[(usize, u8)], fix_params: bool, fix_state: bool) -> [u8; 1024] {
    let mut h = [0u8; 1024];
    h.copy_from_slice(&seed()[..1024]);
    for &(at, b) in writes.iter().filter(|w| w.0 < 1024) {
        h[at] = b;
    }
    if fix_params {
        let mut p: Params = bytemuck::pod_read_unaligned(&h[..size_of::<Params>()]);
        p.params_crc = params_crc(&p);
        h[..size_of::<Params>()].copy_from_slice(bytemuck::bytes_of(&p));
    }
    if fix_state {
        let r = STATE_OFFSET..STATE_OFFSET + size_of::<State>();
        let mut s: State = bytemuck::pod_read_unaligned(&h[r.clone()]);
        s.state_crc = state_crc(&s);
        h[r].copy_from_slice(bytemuck::bytes_of(&s));
    }
    h
}

/// The whole file the `sidecar` target loads for `data` (see [`Plan`]).
pub fn sidecar_image(data: &[u8]) -> Vec<u8> {
    match plan(data) {
        Plan::Raw(v) => v,
        Plan::Patched { writes, truncate, fix_params, fix_state } => {
            let mut file = seed().to_vec();
            for &(at, b) in &writes {
                file[at] = b;
            }
            file[..1024].copy_from_slice(&patched_head(&writes, fix_params, fix_state));
            file.truncate(truncate.unwrap_or(file.len()));
            file
        }
    }
}

/// This thread's copy of the seed: an unlinked file (nothing is left behind, whatever way the
/// process ends) reached through `/proc/self/fd`. Patches are written in place and undone
/// after each run, so a run costs a few writes instead of a megabyte.
fn with_seed_file<T>(f: impl FnOnce(&std::fs::File, &std::path::Path) -> T) -> T {
    use std::os::unix::io::AsRawFd;
    thread_local! {
        static FILE: std::fs::File = {
            let p = scratch_path();
            std::fs::write(&p, seed()).expect("write scratch sidecar");
            let f = std::fs::OpenOptions::new().read(true).write(true).open(&p).expect("open scratch sidecar");
            let _ = std::fs::remove_file(&p);
            f
        };
    }
    FILE.with(|file| f(file, &PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))))
}

/// True when this thread's scratch copy of the seed is the seed again (every patch undone):
/// the corpus replay checks it, since a leftover patch would change what later inputs mean.
pub fn seed_file_is_pristine() -> bool {
    with_seed_file(|_, path| std::fs::read(path).map(|b| b == seed()).unwrap_or(false))
}

/// The sidecar loader: the bytes of [`sidecar_image`] as the index's sidecar file. Opening it
/// must either fail with an error whose answer is "rebuild from the log", or give a sidecar
/// on which everything a scan, stats and prewarm do stays inside what was mapped.
pub fn sidecar(data: &[u8]) {
    use std::os::unix::fs::FileExt;
    match plan(data) {
        Plan::Raw(bytes) => {
            let tmp = TempFile(scratch_path());
            std::fs::write(&tmp.0, &bytes).expect("write scratch sidecar");
            load_and_walk(&tmp.0);
        }
        Plan::Patched { writes, truncate, fix_params, fix_state } => with_seed_file(|file, path| {
            for &(at, b) in &writes {
                file.write_all_at(&[b], at as u64).unwrap();
            }
            file.write_all_at(&patched_head(&writes, fix_params, fix_state), 0).unwrap();
            if let Some(n) = truncate {
                file.set_len(n as u64).unwrap();
            }
            // Undo, also when an assertion unwinds (the corpus replay catches panics).
            struct Restore<'a>(&'a std::fs::File, &'a [(usize, u8)], Option<usize>);
            impl Drop for Restore<'_> {
                fn drop(&mut self) {
                    let seed = seed();
                    if let Some(n) = self.2 {
                        self.0.set_len(seed.len() as u64).unwrap();
                        self.0.write_all_at(&seed[n..], n as u64).unwrap();
                    }
                    for &(at, _) in self.1 {
                        self.0.write_all_at(&seed[at..at + 1], at as u64).unwrap();
                    }
                    self.0.write_all_at(&seed[..1024], 0).unwrap();
                }
            }
            let _restore = Restore(file, &writes, truncate);
            load_and_walk(path);
        }),
    }
}

fn load_and_walk(path: &std::path::Path) {
    let sc = match Sidecar::open(path, SEED_ID) {
        Ok(sc) => sc,
        Err(e) => {
            assert!(e.needs_rebuild(), "loader gave a non-rebuild error: {e}");
            return;
        }
    };
    let n = sc.node_count();
    let st = *sc.state();
    assert!(st.max_level <= MAX_LEVEL);
    assert!(n == 0 || (sc.quantizer().is_some() && st.entry_point < n));
    for id in 0..n {
        assert!(sc.is_mapped(id), "node {id} of {n} is not mapped");
        let info = sc.info(id);
        let _ = (sc.info_ok(id), sc.is_deleted(id), sc.vector(id).len(), sc.code_row(id));
        for level in 0..=(info.level as u32).min(MAX_LEVEL) {
            for w in sc.neighbours(id, level) {
                let nb = w.load(Ordering::Relaxed);
                if nb < n {
                    let _ = sc.code_row(nb);
                }
            }
        }
    }
    let mut scratch = Scratch::default();
    let q = vec![0.25f32; sc.dims()];
    if let Some(mut s) = Searcher::new(&sc, &q, &mut scratch) {
        let mut seen = 0u64;
        for _ in 0..4 {
            let batch = s.next_batch(&sc, &mut scratch, SearchParams { ef: 16 });
            assert!(batch.iter().all(|c| c.id < n));
            seen += batch.len() as u64;
            if batch.is_empty() {
                break;
            }
        }
        assert!(seen <= n as u64);
    }
    let g = stats::graph_stats(&sc, || {});
    assert!(g.nodes_per_layer.first().copied().unwrap_or(0) <= n as u64);
    let _ = stats::quantization_error(&sc, 50, 1);
    let _ = stats::arena_bytes(&sc);
    let _ = stats::prewarm(&sc, true, || {});
}
