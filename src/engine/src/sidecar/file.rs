//! Opening, validating, mapping and growing a sidecar file.
//!
//! Readers and the writer share one mapping per chunk. Vectors and node info of a node are
//! written before the node is published (state.node_count), and never change afterwards
//! except the tombstone flag (atomic byte) and neighbour lists (atomic u32 words), so a
//! reader that bounds every id by its own snapshot of node_count never sees a partial node.
use super::format::*;
use crate::error::{Error, Result};
use crate::quant::{Quantizer, RowMeta};
use crate::Metric;
use memmap2::{MmapOptions, MmapRaw};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicU8, Ordering};

/// Bytes of row meta (‖q‖² i32, c·q f32) at the start of each int8 row: the first cache line
/// of a row then serves both, one miss per distance instead of two.
const ROW_META: usize = 8;

/// What the caller (the index's metapage) says the sidecar must be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Identity {
    pub build_id: u64,
    pub dims: u32,
    pub metric: Metric,
    pub m: u32,
    pub ef_construction: u32,
}

struct ChunkMap {
    _map: MmapRaw,
    base: *mut u8,
    len: usize,
}

/// An open sidecar. `Send + Sync`: shared reads go through the invariants in the module doc;
/// writes happen only under the index's writer lock, to nodes not yet published or to
/// atomic words.
pub struct Sidecar {
    path: PathBuf,
    file: File,
    params: Params,
    geo: Geometry,
    metric: Metric,
    header: MmapRaw,
    nodes: Vec<ChunkMap>,
    node_layout: Vec<NodeChunkLayout>,
    uppers: Vec<ChunkMap>,
    quant: Option<Quantizer>,
    /// The state this handle last read (readers) or will publish next (writer).
    state: State,
}

impl std::fmt::Debug for Sidecar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sidecar").field("path", &self.path).field("state", &self.state).finish()
    }
}

// SAFETY: raw pointers point into shared mappings owned by `self`; concurrent access follows
// the publish protocol above (atomics for mutable words, immutable rows once published).
unsafe impl Send for Sidecar {}
unsafe impl Sync for Sidecar {}

fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A publish syncs the file when the last sync is at least this old (seconds). Between syncs
/// the state records the boot it was published in; after an OS crash, a sidecar whose state
/// was not synced is rebuilt from the index log. Each sync writes back every page the batches
/// since the last one dirtied (with 2 MiB folios, ~1 GB per 128-row batch into a 1M index),
/// so one per interval instead of one per batch.
pub const SYNC_INTERVAL_SECS: u64 = 10;

/// This boot of the machine (the first 64 bits of /proc/sys/kernel/random/boot_id, never 0);
/// None where it cannot be read, and then every publish syncs.
pub fn boot_id() -> Option<u64> {
    static BOOT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *BOOT.get_or_init(|| {
        let s = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let hex: String = s.chars().filter(|c| c.is_ascii_hexdigit()).take(16).collect();
        (hex.len() == 16).then(|| u64::from_str_radix(&hex, 16).ok()).flatten().map(|b| b | 1)
    })
}

fn fallocate(file: &File, path: &Path, len: u64) -> Result<()> {
    // SAFETY: plain syscall on an fd we own.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
    match rc {
        0 => Ok(()),
        libc::ENOSPC | libc::EDQUOT => Err(Error::DiskFull { path: path.display().to_string(), bytes: len, source: std::io::Error::from_raw_os_error(rc) }),
        // Filesystems without fallocate: fall back to set_len (sparse, SIGBUS risk on full disk).
        libc::EOPNOTSUPP | libc::EINVAL => file.set_len(len).map_err(|e| Error::io(path, e)),
        e => Err(Error::io(path, std::io::Error::from_raw_os_error(e))),
    }
}

/// Maps `len` bytes at `offset`. The first `hot` bytes (int8 rows, graph, node info: what
/// every search touches at random) are advised MADV_HUGEPAGE, so page-cache folios created
/// through this mapping are 2 MiB where the filesystem allows it and map with one TLB entry.
/// The f32 rerank rows after them are advised MADV_RANDOM: a rerank reads a handful of rows
/// scattered over the arena, and without the advice each page fault under memory pressure
/// reads ahead 128 KiB around the row (measured in BENCHMARKS.md, "Larger than memory").
fn map(file: &File, path: &Path, offset: u64, len: usize, hot: usize) -> Result<ChunkMap> {
    let map = MmapOptions::new().offset(offset).len(len).map_raw(file).map_err(|e| Error::io(path, e))?;
    // Hints: kernels or filesystems without file THP ignore or refuse them.
    if hot > 0 {
        let _ = map.advise_range(memmap2::Advice::HugePage, 0, hot.min(len));
    }
    if hot < len {
        let _ = map.advise_range(memmap2::Advice::Random, hot, len - hot);
    }
    let base = map.as_mut_ptr();
    Ok(ChunkMap { _map: map, base, len })
}

impl Sidecar {
    /// Creates a new, empty sidecar at `path` (truncating any file there), mode 0600.
    pub fn create(path: &Path, id: Identity) -> Result<Sidecar> {
        if id.dims == 0 || id.dims > MAX_DIMS {
            return Err(Error::Invalid(format!("dimensions must be between 1 and {MAX_DIMS}")));
        }
        if !crate::options::M_RANGE.contains(&(id.m as i32)) {
            return Err(Error::Invalid(format!("m must be between {} and {}", crate::options::M_RANGE.start(), crate::options::M_RANGE.end())));
        }
        let geo = Geometry::new(id.dims as usize, id.m as usize);
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).mode(0o600).open(path).map_err(|e| Error::io(path, e))?;
        let head_len = HEADER_SIZE + geo.centre_bytes();
        fallocate(&file, path, head_len as u64)?;
        let mut params = Params {
            magic: MAGIC,
            format_version: FORMAT_VERSION,
            params_crc: 0,
            build_id: id.build_id,
            dims: id.dims,
            metric: id.metric as u32,
            m: id.m,
            m0: geo.m0 as u32,
            ef_construction: id.ef_construction,
            codes: geo.codes as u32,
            i8_stride: geo.i8_stride as u32,
            l0_stride: geo.l0_stride as u32,
            f32_stride: geo.f32_stride as u32,
            upper_stride: geo.upper_stride as u32,
            chunk_min_shift: geo.node_chunks.min_shift,
            chunk_max_shift: geo.node_chunks.max_shift,
            upper_min_shift: geo.upper_chunks.min_shift,
            upper_max_shift: geo.upper_chunks.max_shift,
            created_unix: now_unix(),
            reserved: [0; 6],
        };
        params.params_crc = params_crc(&params);
        let header = MmapOptions::new().len(head_len).map_raw(&file).map_err(|e| Error::io(path, e))?;
        // SAFETY: fresh mapping of head_len ≥ STATE_OFFSET + size_of::<State>() bytes; nobody else has the file yet.
        unsafe {
            std::ptr::write_unaligned(header.as_mut_ptr().add(PARAMS_OFFSET) as *mut Params, params);
        }
        let state = State { entry_point: NO_NODE, file_len: head_len as u64, built_unix: now_unix(), ..Default::default() };
        let mut sc = Sidecar {
            path: path.to_path_buf(),
            file,
            params,
            geo,
            metric: id.metric,
            header,
            nodes: Vec::new(),
            node_layout: Vec::new(),
            uppers: Vec::new(),
            quant: None,
            state,
        };
        sc.write_state();
        Ok(sc)
    }

    /// Opens and validates an existing sidecar against the index's identity.
    pub fn open(path: &Path, expect: Identity) -> Result<Sidecar> {
        Self::open_in(path, expect, boot_id())
    }

    /// `open` as if in boot `boot`.
    fn open_in(path: &Path, expect: Identity, boot: Option<u64>) -> Result<Sidecar> {
        let file = OpenOptions::new().read(true).write(true).open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len < HEADER_SIZE as u64 {
            return Err(Error::corrupt(path, format!("file is {len} bytes, shorter than its header")));
        }
        let pmap = MmapOptions::new().len(HEADER_SIZE).map_raw(&file).map_err(|e| Error::io(path, e))?;
        // SAFETY: mapping is HEADER_SIZE bytes; Params is Pod and read unaligned.
        let params: Params = unsafe { std::ptr::read_unaligned(pmap.as_ptr().add(PARAMS_OFFSET) as *const Params) };
        if params.magic != MAGIC {
            return Err(Error::corrupt(path, "bad magic"));
        }
        if params.format_version != FORMAT_VERSION {
            return Err(Error::Version { path: path.display().to_string(), found: params.format_version, expected: FORMAT_VERSION });
        }
        if params_crc(&params) != params.params_crc {
            return Err(Error::corrupt(path, "header checksum mismatch"));
        }
        let metric = Metric::from_u32(params.metric).ok_or_else(|| Error::corrupt(path, "unknown metric"))?;
        if params.build_id != expect.build_id || params.dims != expect.dims || metric != expect.metric || params.m != expect.m {
            return Err(Error::corrupt(path, "belongs to another index build"));
        }
        // Geometry::new divides by the row sizes: never feed it values no index can have.
        if params.dims == 0 || params.dims > MAX_DIMS || !crate::options::M_RANGE.contains(&(params.m as i32)) {
            return Err(Error::corrupt(path, "dimensions or m out of range"));
        }
        let geo = Geometry::new(params.dims as usize, params.m as usize);
        if geo != Geometry::from_params(&params) {
            return Err(Error::corrupt(path, "geometry does not match its parameters"));
        }
        drop(pmap);
        let head_len = HEADER_SIZE + geo.centre_bytes();
        if len < head_len as u64 {
            return Err(Error::corrupt(path, "file shorter than its header"));
        }
        let header = MmapOptions::new().len(head_len).map_raw(&file).map_err(|e| Error::io(path, e))?;
        let mut sc = Sidecar {
            path: path.to_path_buf(),
            file,
            params,
            geo,
            metric,
            header,
            nodes: Vec::new(),
            node_layout: Vec::new(),
            uppers: Vec::new(),
            quant: None,
            state: State::default(),
        };
        // A superseded file is renamed over right after it is marked; found at the path, the
        // rename was lost (a crash of the machine) or is about to happen: not a usable file.
        if !sc.refresh()? {
            return Err(Error::corrupt(path, "superseded by a rebuild"));
        }
        sc.check_boot(boot)?;
        Ok(sc)
    }

    /// A state published without a sync in another boot may describe bytes the machine lost.
    fn check_boot(&self, boot: Option<u64>) -> Result<()> {
        let b = self.state.unsynced_boot;
        if b != 0 && Some(b) != boot {
            return Err(Error::corrupt(&self.path, "the machine restarted before its last changes were synced to disk"));
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn params(&self) -> &Params {
        &self.params
    }
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }
    pub fn metric(&self) -> Metric {
        self.metric
    }
    pub fn dims(&self) -> usize {
        self.geo.dims
    }
    /// The state as of the last `refresh` (reader) or as pending publication (writer).
    pub fn state(&self) -> &State {
        &self.state
    }
    pub fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }
    pub fn quantizer(&self) -> Option<&Quantizer> {
        self.quant.as_ref()
    }
    pub fn node_count(&self) -> u32 {
        self.state.node_count as u32
    }

    fn seq_word(&self) -> &AtomicU64 {
        // SAFETY: State is 8-aligned at STATE_OFFSET (512) in a page-aligned mapping.
        unsafe { &*(self.header.as_ptr().add(STATE_OFFSET) as *const AtomicU64) }
    }

    /// Seqlock read of the shared state.
    fn read_state(&self) -> State {
        let seqw = self.seq_word();
        for _ in 0..1_000_000 {
            let s1 = seqw.load(Ordering::Acquire);
            if s1 & 1 == 0 {
                // SAFETY: in-bounds read of a Pod; a torn copy is rejected by the seq re-check.
                let st: State = unsafe { std::ptr::read_volatile(self.header.as_ptr().add(STATE_OFFSET) as *const State) };
                fence(Ordering::Acquire);
                if seqw.load(Ordering::Relaxed) == s1 {
                    return st;
                }
            }
            std::hint::spin_loop();
        }
        // A writer died mid-update: the crc check below decides.
        // SAFETY: as above.
        unsafe { std::ptr::read_volatile(self.header.as_ptr().add(STATE_OFFSET) as *const State) }
    }

    /// Publishes `self.state` (writer only).
    fn write_state(&mut self) {
        let seqw = self.seq_word();
        let s = seqw.load(Ordering::Relaxed);
        let s = if s & 1 == 1 { s + 1 } else { s };
        seqw.store(s + 1, Ordering::Relaxed);
        fence(Ordering::Release);
        let mut st = self.state;
        st.state_crc = state_crc(&st);
        st.seq = s + 1;
        // SAFETY: in-bounds write of a Pod into our writable header mapping.
        unsafe { std::ptr::write_volatile(self.header.as_mut_ptr().add(STATE_OFFSET) as *mut State, st) };
        fence(Ordering::Release);
        seqw.store(s + 2, Ordering::Release);
        self.state.seq = s + 2;
    }

    fn dir_entry(&self, upper: bool, k: usize) -> u64 {
        let off = if upper { UPPER_DIR_OFFSET } else { NODE_DIR_OFFSET } + 8 * k;
        // SAFETY: k < MAX_CHUNKS keeps the read inside the header mapping.
        unsafe { std::ptr::read_volatile(self.header.as_ptr().add(off) as *const u64) }
    }

    fn set_dir_entry(&mut self, upper: bool, k: usize, v: u64) {
        let off = if upper { UPPER_DIR_OFFSET } else { NODE_DIR_OFFSET } + 8 * k;
        // SAFETY: as above; only the writer calls this.
        unsafe { std::ptr::write_volatile(self.header.as_mut_ptr().add(off) as *mut u64, v) }
    }

    /// Re-reads the shared state, validates it and maps chunks that appeared since.
    /// Returns false when the file was superseded by a rebuild (the caller should reopen).
    pub fn refresh(&mut self) -> Result<bool> {
        let st = self.read_state();
        if st.seq & 1 == 1 || state_crc(&st) != st.state_crc {
            return Err(Error::corrupt(&self.path, "state checksum mismatch"));
        }
        if st.superseded != 0 {
            return Ok(false);
        }
        let flen = self.file.metadata().map_err(|e| Error::io(&self.path, e))?.len();
        let rule = self.geo.node_chunks;
        let urule = self.geo.upper_chunks;
        let bad = |why: &str| Err(Error::corrupt(&self.path, why.to_string()));
        if st.file_len > flen {
            return bad("file shorter than its recorded length");
        }
        if st.node_chunks as usize > MAX_CHUNKS || st.upper_chunks as usize > MAX_CHUNKS {
            return bad("chunk count out of range");
        }
        if st.node_count > rule.start(st.node_chunks as usize) || st.upper_count > urule.start(st.upper_chunks as usize) {
            return bad("more nodes than allocated space");
        }
        if st.max_level > MAX_LEVEL || (st.node_count > 0 && st.entry_point as u64 >= st.node_count) || (st.node_count > 0 && st.quantized == 0) {
            return bad("entry point or level out of range");
        }
        if st.deleted > st.node_count {
            return bad("more deleted nodes than nodes");
        }
        // A writer whose batch failed before publishing (cancel, disk full) may hold chunks and a
        // quantizer the shared state does not record. Forget them, so this handle describes the
        // published file exactly and its next batch re-reserves from the published length.
        if st.quantized == 0 {
            self.quant = None;
        }
        self.nodes.truncate(st.node_chunks as usize);
        self.node_layout.truncate(st.node_chunks as usize);
        self.uppers.truncate(st.upper_chunks as usize);
        if st.quantized != 0 && self.quant.is_none() {
            if !(st.scale > 0.0 && st.scale.is_finite()) {
                return bad("bad quantizer scale");
            }
            // SAFETY: the centre region (dims f32) lies inside the header mapping.
            let centre: Vec<f32> = unsafe { std::slice::from_raw_parts(self.header.as_ptr().add(CENTRE_OFFSET) as *const f32, self.geo.dims).to_vec() };
            if centre.iter().any(|c| !c.is_finite()) {
                return bad("bad quantizer centre");
            }
            self.quant = Some(Quantizer { centre, scale: st.scale, centre_norm_sq: st.centre_norm_sq });
        }
        while self.nodes.len() < st.node_chunks as usize {
            let k = self.nodes.len();
            let n = rule.size(k) as usize;
            let layout = self.geo.node_chunk_layout(n);
            let off = self.dir_entry(false, k);
            if off % 4096 != 0 || off < (HEADER_SIZE + self.geo.centre_bytes()) as u64 || off + layout.bytes as u64 > st.file_len {
                return bad("node chunk outside the file");
            }
            self.nodes.push(map(&self.file, &self.path, off, layout.bytes, layout.f32_off)?);
            self.node_layout.push(layout);
        }
        while self.uppers.len() < st.upper_chunks as usize {
            let k = self.uppers.len();
            let bytes = self.geo.upper_chunk_bytes(urule.size(k) as usize);
            let off = self.dir_entry(true, k);
            if off % 4096 != 0 || off + bytes as u64 > st.file_len {
                return bad("upper chunk outside the file");
            }
            self.uppers.push(map(&self.file, &self.path, off, bytes, bytes)?);
        }
        self.state = st;
        Ok(true)
    }

    // ---- node access (ids must be < a node count this handle has mapped) ----

    #[inline]
    fn node_ptr(&self, id: u32) -> (*mut u8, &NodeChunkLayout, usize) {
        let (k, i) = self.geo.node_chunks.locate(id as u64);
        let c = &self.nodes[k];
        (c.base, &self.node_layout[k], i as usize)
    }

    /// True when `id` lies in a mapped chunk.
    #[inline]
    pub fn is_mapped(&self, id: u32) -> bool {
        let (k, _) = self.geo.node_chunks.locate(id as u64);
        k < self.nodes.len()
    }

    /// int8 codes of node `id` (length `geometry().codes`, zero-padded).
    #[inline]
    pub fn codes(&self, id: u32) -> &[i8] {
        let (base, _, i) = self.node_ptr(id);
        // SAFETY: row i of the chunk's int8 array is in bounds; published rows are immutable.
        unsafe { std::slice::from_raw_parts(base.add(i * self.geo.i8_stride + ROW_META) as *const i8, self.geo.codes) }
    }

    #[inline]
    pub fn row_meta(&self, id: u32) -> RowMeta {
        let (base, _, i) = self.node_ptr(id);
        // SAFETY: the 8 meta bytes open the row, inside the row stride.
        unsafe {
            let p = base.add(i * self.geo.i8_stride);
            RowMeta { norm_sq: std::ptr::read_unaligned(p as *const i32), centre_dot: std::ptr::read_unaligned(p.add(4) as *const f32) }
        }
    }

    /// Codes and row meta of node `id` with one chunk lookup (the search hot path).
    #[inline]
    pub fn code_row(&self, id: u32) -> (&[i8], RowMeta) {
        let (base, _, i) = self.node_ptr(id);
        // SAFETY: row i is in bounds; 8 meta bytes then the codes lie within the row stride.
        unsafe {
            let m = base.add(i * self.geo.i8_stride);
            (
                std::slice::from_raw_parts(m.add(ROW_META) as *const i8, self.geo.codes),
                RowMeta { norm_sq: std::ptr::read_unaligned(m as *const i32), centre_dot: std::ptr::read_unaligned(m.add(4) as *const f32) },
            )
        }
    }

    /// Hint the CPU to fetch the start of node `id`'s codes; the hardware prefetcher follows
    /// the rest of the row. (Prefetching whole rows for 2·M neighbours overflows the fill
    /// buffers and stalls: measured on 100k × 384.)
    #[inline]
    pub fn prefetch_codes(&self, id: u32) {
        let (base, _, i) = self.node_ptr(id);
        // SAFETY: prefetch never faults; the address is inside the mapping.
        unsafe { prefetch(base.add(i * self.geo.i8_stride)) };
    }

    /// Hint the CPU to fetch the rest of node `id`'s int8 row (every line after the first);
    /// issued a few rows ahead of the distance loop, so few lines are in flight at once.
    #[inline]
    pub fn prefetch_row_rest(&self, id: u32) {
        let (base, _, i) = self.node_ptr(id);
        let row = base.wrapping_add(i * self.geo.i8_stride);
        let mut off = 64;
        while off < self.geo.codes + ROW_META {
            // SAFETY: prefetch never faults; the line lies inside the row stride.
            unsafe { prefetch(row.add(off)) };
            off += 64;
        }
    }

    /// Hint the CPU to fetch node `id`'s info record (deleted flag, TID).
    #[inline]
    pub fn prefetch_info(&self, id: u32) {
        // SAFETY: prefetch never faults; the record is inside the mapping.
        unsafe { prefetch(self.info_ptr(id) as *const u8) };
    }

    /// Hint the CPU to fetch node `id`'s layer-0 neighbour list.
    #[inline]
    pub fn prefetch_neighbours(&self, id: u32) {
        let (base, l, i) = self.node_ptr(id);
        // SAFETY: as above.
        unsafe { prefetch(base.add(l.l0_off + i * self.geo.l0_stride)) };
    }

    /// The stored (prepared) f32 vector of node `id`.
    #[inline]
    pub fn vector(&self, id: u32) -> &[f32] {
        let (base, l, i) = self.node_ptr(id);
        // SAFETY: row i of the f32 array is in bounds and 64-aligned; immutable once published.
        unsafe { std::slice::from_raw_parts(base.add(l.f32_off + i * self.geo.f32_stride) as *const f32, self.geo.dims) }
    }

    #[inline]
    fn info_ptr(&self, id: u32) -> *mut NodeInfo {
        let (base, l, i) = self.node_ptr(id);
        // SAFETY: in-bounds, 16-byte aligned record.
        unsafe { base.add(l.info_off + i * INFO_SIZE) as *mut NodeInfo }
    }

    #[inline]
    pub fn info(&self, id: u32) -> NodeInfo {
        // SAFETY: see info_ptr; read_volatile since flags may change concurrently.
        unsafe { std::ptr::read_volatile(self.info_ptr(id)) }
    }

    /// True when `id`'s info record passes its check word.
    pub fn info_ok(&self, id: u32) -> bool {
        let inf = self.info(id);
        inf.check == NodeInfo::check_for(id, inf.tid, inf.level, inf.upper_slot, self.params.build_id)
            && inf.level as u32 <= self.state.max_level.max(MAX_LEVEL)
    }

    #[inline]
    fn flags(&self, id: u32) -> &AtomicU8 {
        // SAFETY: the flags byte of an in-bounds info record.
        unsafe { &*((self.info_ptr(id) as *mut u8).add(7) as *const AtomicU8) }
    }

    #[inline]
    pub fn is_deleted(&self, id: u32) -> bool {
        self.flags(id).load(Ordering::Relaxed) & FLAG_DELETED != 0
    }

    /// Neighbour ids of `id` at `level` as atomic words; `NO_NODE` ends the list.
    /// Returns an empty slice when the node has no list at that level or it is unmapped.
    #[inline]
    pub fn neighbours(&self, id: u32, level: u32) -> &[AtomicU32] {
        if level == 0 {
            let (base, l, i) = self.node_ptr(id);
            // SAFETY: row i of the layer-0 array, m0 aligned u32 words.
            return unsafe { std::slice::from_raw_parts(base.add(l.l0_off + i * self.geo.l0_stride) as *const AtomicU32, self.geo.m0) };
        }
        let inf = self.info(id);
        if level > inf.level as u32 {
            return &[];
        }
        let slot = inf.upper_slot as u64 + (level as u64 - 1);
        let (k, i) = self.geo.upper_chunks.locate(slot);
        match self.uppers.get(k) {
            Some(c) if (i as usize + 1) * self.geo.upper_stride <= c.len => {
                // SAFETY: slot row in bounds of a mapped upper chunk.
                unsafe { std::slice::from_raw_parts(c.base.add(i as usize * self.geo.upper_stride) as *const AtomicU32, self.geo.m) }
            }
            _ => &[],
        }
    }

    // ---- writer side (caller holds the writer lock) ----

    /// Makes room for `nodes` nodes and `uppers` upper slots: fallocate, record, map.
    pub fn reserve(&mut self, nodes: u64, uppers: u64) -> Result<()> {
        let rule = self.geo.node_chunks;
        let urule = self.geo.upper_chunks;
        if nodes > rule.capacity() || nodes > u32::MAX as u64 - 1 || uppers > urule.capacity() {
            return Err(Error::Invalid(format!("vecmap index cannot hold more than {} rows", rule.capacity().min(u32::MAX as u64 - 1))));
        }
        while rule.start(self.nodes.len()) < nodes {
            let k = self.nodes.len();
            let layout = self.geo.node_chunk_layout(rule.size(k) as usize);
            let off = self.grow(layout.bytes)?;
            self.set_dir_entry(false, k, off);
            self.nodes.push(map(&self.file, &self.path, off, layout.bytes, layout.f32_off)?);
            self.node_layout.push(layout);
            self.state.node_chunks = self.nodes.len() as u32;
        }
        while urule.start(self.uppers.len()) < uppers {
            let k = self.uppers.len();
            let bytes = self.geo.upper_chunk_bytes(urule.size(k) as usize);
            let off = self.grow(bytes)?;
            self.set_dir_entry(true, k, off);
            self.uppers.push(map(&self.file, &self.path, off, bytes, bytes)?);
            self.state.upper_chunks = self.uppers.len() as u32;
        }
        Ok(())
    }

    fn grow(&mut self, bytes: usize) -> Result<u64> {
        let off = self.state.file_len.div_ceil(4096) * 4096;
        let end = off + bytes as u64;
        fallocate(&self.file, &self.path, end)?;
        self.state.file_len = end;
        Ok(off)
    }

    /// Records the quantizer (once, before the first node is published).
    pub fn set_quantizer(&mut self, q: Quantizer) {
        assert_eq!(q.dims(), self.geo.dims);
        // SAFETY: the centre region holds dims f32 inside the header mapping; writer only.
        unsafe {
            std::ptr::copy_nonoverlapping(q.centre.as_ptr(), self.header.as_mut_ptr().add(CENTRE_OFFSET) as *mut f32, self.geo.dims);
        }
        self.state.quantized = 1;
        self.state.scale = q.scale;
        self.state.centre_norm_sq = q.centre_norm_sq;
        self.quant = Some(q);
    }

    /// Writes node `id`'s prepared vector and heap TID. The node must be reserved and
    /// unpublished, and no other thread may write the same node.
    pub fn write_vector(&self, id: u32, tid: [u16; 3], vector: &[f32]) {
        assert!(self.is_mapped(id) && vector.len() == self.geo.dims);
        let (base, l, i) = self.node_ptr(id);
        // SAFETY: rows in bounds; unpublished nodes are written by one thread (caller contract).
        unsafe {
            let f = base.add(l.f32_off + i * self.geo.f32_stride) as *mut f32;
            std::ptr::copy_nonoverlapping(vector.as_ptr(), f, vector.len());
            std::ptr::write_volatile(self.info_ptr(id), NodeInfo { tid, ..Default::default() });
        }
    }

    /// Encodes node `id` from its written vector and completes its info record (level, upper
    /// slot, check word); clears its neighbour lists. Same contract as `write_vector`.
    pub fn finish_node(&self, id: u32, level: u8, upper_slot: u32) {
        let q = self.quant.as_ref().expect("quantizer set before nodes are finished");
        let tid = self.info(id).tid;
        let (base, _, i) = self.node_ptr(id);
        // SAFETY: as in write_vector; meta and codes lie within the row stride.
        unsafe {
            let p = base.add(i * self.geo.i8_stride);
            let row = std::slice::from_raw_parts_mut(p.add(ROW_META) as *mut i8, self.geo.codes);
            let meta = q.encode(self.vector(id), row);
            std::ptr::write_unaligned(p as *mut i32, meta.norm_sq);
            std::ptr::write_unaligned(p.add(4) as *mut f32, meta.centre_dot);
            let check = NodeInfo::check_for(id, tid, level, upper_slot, self.params.build_id);
            std::ptr::write_volatile(self.info_ptr(id), NodeInfo { tid, level, flags: 0, upper_slot, check });
        }
        for lv in 0..=level as u32 {
            for w in self.neighbours(id, lv) {
                w.store(NO_NODE, Ordering::Relaxed);
            }
        }
    }

    /// Marks node `id` deleted (it keeps routing searches).
    pub fn set_deleted(&self, id: u32) -> bool {
        self.flags(id).fetch_or(FLAG_DELETED, Ordering::Release) & FLAG_DELETED == 0
    }

    /// Makes the pending state visible to every backend. A crash of Postgres keeps the page
    /// cache, so that is all it needs; for a crash of the machine, the data is synced before a
    /// state that says so (at most every `SYNC_INTERVAL_SECS`), and a state published in
    /// between records its boot, so that `open` after a reboot rejects it (see `check_boot`).
    pub fn publish(&mut self) -> Result<()> {
        self.publish_at(now_unix(), boot_id())
    }

    fn publish_at(&mut self, now: u64, boot: Option<u64>) -> Result<()> {
        match boot {
            Some(b) if now.abs_diff(self.state.synced_unix) < SYNC_INTERVAL_SECS => self.state.unsynced_boot = b,
            _ => {
                self.file.sync_data().map_err(|e| Error::io(&self.path, e))?;
                self.state.synced_unix = now;
                self.state.unsynced_boot = 0;
            }
        }
        self.write_state();
        Ok(())
    }

    /// Flags this file as replaced; readers that still map it reopen the path.
    pub fn mark_superseded(&mut self) {
        self.state.superseded = 1;
        self.write_state();
    }

    /// The mapped regions of this handle, for introspection (residency, prewarm): per node
    /// chunk its traversal part (int8 rows, layer-0 lists, node info) and its f32 rows, and
    /// every upper-layer chunk. Pointers stay valid while `self` lives; the bytes may change
    /// concurrently (neighbour words, tombstones), so read them only with volatile loads.
    pub fn regions(&self) -> Vec<Region> {
        let mut out = Vec::with_capacity(2 * self.nodes.len() + self.uppers.len());
        for (c, l) in self.nodes.iter().zip(&self.node_layout) {
            out.push(Region { kind: RegionKind::Traversal, ptr: c.base as *const u8, len: l.f32_off });
            // SAFETY: f32_off ≤ len within the same mapping.
            out.push(Region { kind: RegionKind::Vectors, ptr: unsafe { c.base.add(l.f32_off) } as *const u8, len: c.len - l.f32_off });
        }
        for c in &self.uppers {
            out.push(Region { kind: RegionKind::Upper, ptr: c.base as *const u8, len: c.len });
        }
        out
    }

    /// Bytes of the file resident in the page cache, per region (mincore).
    pub fn resident_bytes(&self) -> ResidentBytes {
        let mut r = ResidentBytes::default();
        for (c, l) in self.nodes.iter().zip(&self.node_layout) {
            r.codes_and_graph += resident(c.base, l.f32_off);
            // SAFETY: f32_off ≤ len within the same mapping.
            r.vectors += resident(unsafe { c.base.add(l.f32_off) }, c.len - l.f32_off);
        }
        for c in &self.uppers {
            r.codes_and_graph += resident(c.base, c.len);
        }
        r
    }

    /// Asks the kernel to read the int8 codes and graph ahead (MADV_WILLNEED); returns bytes.
    pub fn prewarm(&self) -> u64 {
        let mut n = 0u64;
        for (c, l) in self.nodes.iter().zip(&self.node_layout) {
            // SAFETY: advisory call on our own mapping.
            unsafe {
                libc::madvise(c.base as *mut libc::c_void, l.f32_off, libc::MADV_WILLNEED);
            }
            n += l.f32_off as u64;
        }
        for c in &self.uppers {
            // SAFETY: as above.
            unsafe {
                libc::madvise(c.base as *mut libc::c_void, c.len, libc::MADV_WILLNEED);
            }
            n += c.len as u64;
        }
        n
    }

    pub fn file_len(&self) -> u64 {
        self.state.file_len
    }

    /// Flushes everything to disk (end of a build).
    pub fn sync(&self) -> Result<()> {
        self.file.sync_all().map_err(|e| Error::io(&self.path, e))
    }
}

/// What a [`Region`] of the file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// A node chunk's int8 rows, layer-0 neighbour lists and node info: what traversal reads.
    Traversal,
    /// A node chunk's f32 rows: read only to rerank.
    Vectors,
    /// An upper-layer neighbour-list chunk.
    Upper,
}

/// One mapped region of a sidecar (see [`Sidecar::regions`]). Traversal and upper regions
/// start on a page boundary; f32 rows start 64-byte aligned inside their chunk.
#[derive(Clone, Copy, Debug)]
pub struct Region {
    pub kind: RegionKind,
    pub ptr: *const u8,
    pub len: usize,
}

#[inline(always)]
unsafe fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch is a hint and never faults.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ResidentBytes {
    pub codes_and_graph: u64,
    pub vectors: u64,
}

fn resident(base: *mut u8, len: usize) -> u64 {
    if len == 0 {
        return 0;
    }
    // mincore wants a page-aligned start: round down, and count whole pages of the range.
    let page = 4096usize;
    let start = base as usize & !(page - 1);
    let span = base as usize + len - start;
    let pages = span.div_ceil(page);
    let mut vec = vec![0u8; pages];
    // SAFETY: [start, start + span) lies within the mapping's pages (mappings are page-aligned).
    let rc = unsafe { libc::mincore(start as *mut libc::c_void, span, vec.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    vec.iter().filter(|&&b| b & 1 == 1).count() as u64 * page as u64
}

/// The per-index writer lock: `flock` on `<sidecar>.lock`, released when the process dies.
pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Tries to take the lock without waiting; Ok(None) when another process holds it.
    pub fn try_lock(sidecar: &Path) -> Result<Option<WriterLock>> {
        Self::lock(sidecar, false)
    }
    /// Waits for the lock.
    pub fn lock_blocking(sidecar: &Path) -> Result<WriterLock> {
        Ok(Self::lock(sidecar, true)?.expect("blocking flock returns the lock"))
    }
    fn lock(sidecar: &Path, wait: bool) -> Result<Option<WriterLock>> {
        let p = lock_path(sidecar);
        let f = OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(&p).map_err(|e| Error::io(&p, e))?;
        let op = if wait { libc::LOCK_EX } else { libc::LOCK_EX | libc::LOCK_NB };
        loop {
            // SAFETY: flock on an fd we own.
            let rc = unsafe { libc::flock(f.as_raw_fd(), op) };
            if rc == 0 {
                return Ok(Some(WriterLock { _file: f }));
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EWOULDBLOCK) => return Ok(None),
                Some(libc::EINTR) => continue,
                _ => return Err(Error::io(&p, e)),
            }
        }
    }
}

pub fn lock_path(sidecar: &Path) -> PathBuf {
    let mut s = sidecar.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(path: &Path) -> Sidecar {
        crate::testutil::build(path, &crate::testutil::clustered(200, 8, 4, 1), 8, Metric::L2, 8, 32)
    }

    fn reopen(sc: &Sidecar, boot: Option<u64>) -> Result<Sidecar> {
        let id = Identity { build_id: sc.params.build_id, dims: sc.params.dims, metric: sc.metric, m: sc.params.m, ef_construction: sc.params.ef_construction };
        Sidecar::open_in(&sc.path, id, boot)
    }

    /// The first publish of a file syncs; later ones within SYNC_INTERVAL_SECS only record the
    /// boot, and a state published so is refused in another boot (the machine restarted, and
    /// the bytes it describes may not have reached disk) but accepted in the same one.
    #[test]
    fn unsynced_publish_is_refused_after_a_reboot() {
        let dir = tempfile::tempdir().unwrap();
        let mut sc = small(&dir.path().join("s"));
        let t0 = sc.state().synced_unix;
        assert!(t0 > 0 && sc.state().unsynced_boot == 0, "the build's publish syncs");
        let (boot, other) = (Some(0x1234_5679), Some(0x9876_5433));
        sc.publish_at(t0 + SYNC_INTERVAL_SECS - 1, boot).unwrap();
        assert_eq!(sc.state().unsynced_boot, 0x1234_5679);
        assert!(reopen(&sc, boot).is_ok());
        assert!(reopen(&sc, other).unwrap_err().needs_rebuild());
        // Due again: synced, and then any boot may open it.
        sc.publish_at(t0 + SYNC_INTERVAL_SECS, boot).unwrap();
        assert_eq!((sc.state().unsynced_boot, sc.state().synced_unix), (0, t0 + SYNC_INTERVAL_SECS));
        assert!(reopen(&sc, other).is_ok());
        // Without a boot id every publish syncs.
        sc.publish_at(t0 + SYNC_INTERVAL_SECS + 1, None).unwrap();
        assert_eq!(sc.state().unsynced_boot, 0);
        assert!(boot_id().is_some_and(|b| b & 1 == 1), "this machine has a boot id");
    }

    /// A file marked superseded but still at its path (its replacement's rename was lost) is not
    /// opened as an empty index: it needs a rebuild.
    #[test]
    fn superseded_file_at_the_path_needs_a_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let mut sc = small(&dir.path().join("s"));
        assert!(reopen(&sc, boot_id()).is_ok());
        sc.mark_superseded();
        assert!(reopen(&sc, boot_id()).unwrap_err().needs_rebuild());
    }
}
