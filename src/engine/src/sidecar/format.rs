//! On-disk layout of a sidecar file (format version 2).
//!
//! ```text
//! 0       Params   immutable after create, covered by params_crc
//! 512     State    published by the single writer under a seqlock, covered by state_crc
//! 1024    node chunk directory: [u64; MAX_CHUNKS] file offsets
//! 17408   upper chunk directory: [u64; MAX_CHUNKS]
//! 40960   quantizer centre: f32 × dims (written once, when the quantizer is fitted)
//! ...     chunks, appended in allocation order, 4096-aligned
//! ```
//! A node chunk of n nodes holds four arrays, each row 64-byte aligned: row meta + int8
//! codes, layer-0 neighbour ids (2·M, `NO_NODE`-padded), node info, f32 vectors. The f32
//! array comes last so the traversal's hot bytes of a chunk are contiguous. Upper-layer
//! lists (M ids per layer ≥ 1) live in separately allocated upper chunks, one slot per
//! (node, layer). Chunk sizes double from `1 << min_shift` to `1 << max_shift`, then stay.
use bytemuck::{Pod, Zeroable};

pub const MAGIC: [u8; 8] = *b"VECMAPSC";
/// 2: row meta moved to the start of each int8 row (1 kept it after the codes).
pub const FORMAT_VERSION: u32 = 2;
pub const PARAMS_OFFSET: usize = 0;
pub const STATE_OFFSET: usize = 512;
pub const NODE_DIR_OFFSET: usize = 1024;
pub const MAX_CHUNKS: usize = 2048;
pub const UPPER_DIR_OFFSET: usize = NODE_DIR_OFFSET + 8 * MAX_CHUNKS;
pub const HEADER_SIZE: usize = 40960;
pub const CENTRE_OFFSET: usize = HEADER_SIZE;
pub const NO_NODE: u32 = u32::MAX;
pub const MAX_LEVEL: u32 = 24;
pub const INFO_SIZE: usize = 16;
/// Largest dimension count the format accepts (the `vector` type's limit).
pub const MAX_DIMS: u32 = 16000;

pub fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

/// Immutable parameters, fixed at creation.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable, PartialEq)]
pub struct Params {
    pub magic: [u8; 8],
    pub format_version: u32,
    pub params_crc: u32,
    /// Identity of the index incarnation this file belongs to (from the metapage).
    pub build_id: u64,
    pub dims: u32,
    pub metric: u32,
    pub m: u32,
    pub m0: u32,
    pub ef_construction: u32,
    pub codes: u32,
    pub i8_stride: u32,
    pub l0_stride: u32,
    pub f32_stride: u32,
    pub upper_stride: u32,
    pub chunk_min_shift: u32,
    pub chunk_max_shift: u32,
    pub upper_min_shift: u32,
    pub upper_max_shift: u32,
    pub created_unix: u64,
    pub reserved: [u64; 6],
}

/// Mutable state. `seq` is the seqlock word (odd while the writer updates the rest).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable, PartialEq, Default)]
pub struct State {
    pub seq: u64,
    /// Nodes 0..node_count are complete and searchable.
    pub node_count: u64,
    pub upper_count: u64,
    pub entry_point: u32,
    pub max_level: u32,
    pub quantized: u32,
    pub scale: f32,
    pub centre_norm_sq: f32,
    pub node_chunks: u32,
    pub upper_chunks: u32,
    pub superseded: u32,
    /// Log entries (inserts and delete marks) applied, and where the next one starts.
    pub log_entries: u64,
    pub log_block: u32,
    pub log_offset: u32,
    pub deleted: u64,
    pub file_len: u64,
    /// Unix seconds of the last full (re)build.
    pub built_unix: u64,
    /// 0 when everything this state describes reached disk (fdatasync) before it was written;
    /// otherwise the boot it was published in (see `Sidecar::publish`).
    pub unsynced_boot: u64,
    /// Unix seconds of the last publish that synced the file.
    pub synced_unix: u64,
    pub reserved: [u64; 2],
    pub state_crc: u32,
    pub pad: u32,
}

/// Per-node record in a chunk's info array.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable, PartialEq, Default)]
pub struct NodeInfo {
    /// Heap TID: block number (hi, lo) and offset, as Postgres' ItemPointerData.
    pub tid: [u16; 3],
    pub level: u8,
    /// Bit 0: deleted (tombstone). Written with an atomic byte store.
    pub flags: u8,
    pub upper_slot: u32,
    /// Check word: hash of (node id, tid, level, upper_slot, build_id). Catches zeroed or
    /// garbage rows before their TID could be returned.
    pub check: u32,
}

pub const FLAG_DELETED: u8 = 1;

impl NodeInfo {
    pub fn check_for(id: u32, tid: [u16; 3], level: u8, upper_slot: u32, build_id: u64) -> u32 {
        let mut h = crc32fast::Hasher::new();
        h.update(&id.to_le_bytes());
        h.update(bytemuck::bytes_of(&tid));
        h.update(&[level]);
        h.update(&upper_slot.to_le_bytes());
        h.update(&build_id.to_le_bytes());
        h.finalize() | 1 // never 0, so a zeroed row never passes
    }
}

/// Row strides and chunk geometry derived from (dims, m).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometry {
    pub dims: usize,
    pub m: usize,
    pub m0: usize,
    pub codes: usize,
    pub i8_stride: usize,
    pub l0_stride: usize,
    pub f32_stride: usize,
    pub upper_stride: usize,
    pub node_chunks: ChunkRule,
    pub upper_chunks: ChunkRule,
}

/// Chunk k holds `size(k)` items starting at `start(k)`: doubling from 2^min to 2^max.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChunkRule {
    pub min_shift: u32,
    pub max_shift: u32,
}

impl ChunkRule {
    pub fn start(&self, k: usize) -> u64 {
        let (lo, hi) = (self.min_shift, self.max_shift);
        let doubling = (hi - lo) as usize; // chunks 1..=doubling double in size
        if k == 0 {
            0
        } else if k <= doubling {
            1u64 << (lo + k as u32 - 1)
        } else {
            (1u64 << hi) * (k - doubling) as u64
        }
    }
    pub fn size(&self, k: usize) -> u64 {
        self.start(k + 1) - self.start(k)
    }
    /// (chunk, index within chunk) of item `id`.
    #[inline]
    pub fn locate(&self, id: u64) -> (usize, u64) {
        let (lo, hi) = (self.min_shift, self.max_shift);
        let k = if id < (1u64 << lo) {
            0
        } else if id < (1u64 << hi) {
            (63 - id.leading_zeros() - lo + 1) as usize
        } else {
            (hi - lo) as usize + (id >> hi) as usize
        };
        (k, id - self.start(k))
    }
    /// Items addressable with `MAX_CHUNKS` chunks.
    pub fn capacity(&self) -> u64 {
        self.start(MAX_CHUNKS)
    }
}

fn floor_pow2_shift(x: usize) -> u32 {
    if x <= 1 { 0 } else { 63 - (x as u64).leading_zeros() }
}

impl Geometry {
    pub fn new(dims: usize, m: usize) -> Geometry {
        let m0 = 2 * m;
        let codes = round_up(dims, 32);
        let i8_stride = round_up(codes + 8, 64);
        let l0_stride = round_up(4 * m0, 64);
        let f32_stride = round_up(4 * dims, 64);
        let upper_stride = round_up(4 * m, 64);
        let per_node = i8_stride + l0_stride + INFO_SIZE + f32_stride;
        // Chunks between ~1 MiB and ~256 MiB, at least 64 nodes.
        let max_shift = floor_pow2_shift((256 << 20) / per_node).clamp(6, 20);
        let min_shift = floor_pow2_shift((1 << 20) / per_node).clamp(6, max_shift);
        let upper_max = floor_pow2_shift((16 << 20) / upper_stride).clamp(6, 20);
        let upper_min = 8.min(upper_max);
        Geometry {
            dims,
            m,
            m0,
            codes,
            i8_stride,
            l0_stride,
            f32_stride,
            upper_stride,
            node_chunks: ChunkRule { min_shift, max_shift },
            upper_chunks: ChunkRule { min_shift: upper_min, max_shift: upper_max },
        }
    }

    pub fn from_params(p: &Params) -> Geometry {
        Geometry {
            dims: p.dims as usize,
            m: p.m as usize,
            m0: p.m0 as usize,
            codes: p.codes as usize,
            i8_stride: p.i8_stride as usize,
            l0_stride: p.l0_stride as usize,
            f32_stride: p.f32_stride as usize,
            upper_stride: p.upper_stride as usize,
            node_chunks: ChunkRule { min_shift: p.chunk_min_shift, max_shift: p.chunk_max_shift },
            upper_chunks: ChunkRule { min_shift: p.upper_min_shift, max_shift: p.upper_max_shift },
        }
    }

    /// Byte offsets of the four arrays inside a node chunk of `n` nodes, and its total size.
    pub fn node_chunk_layout(&self, n: usize) -> NodeChunkLayout {
        let i8_off = 0;
        let l0_off = i8_off + n * self.i8_stride;
        let info_off = l0_off + n * self.l0_stride;
        let f32_off = round_up(info_off + n * INFO_SIZE, 64);
        let bytes = round_up(f32_off + n * self.f32_stride, 4096);
        NodeChunkLayout { l0_off, info_off, f32_off, bytes }
    }

    pub fn upper_chunk_bytes(&self, n: usize) -> usize {
        round_up(n * self.upper_stride, 4096)
    }

    pub fn centre_bytes(&self) -> usize {
        round_up(4 * self.dims, 4096)
    }

    /// Bytes of a sidecar holding `nodes` nodes: header, centre and the node chunks that hold
    /// them (upper-layer lists, about 1/m of the nodes, not counted). What a build maps.
    pub fn file_bytes_for(&self, nodes: u64) -> u64 {
        let mut bytes = (HEADER_SIZE + self.centre_bytes()) as u64;
        let mut k = 0;
        while self.node_chunks.start(k) < nodes && k < MAX_CHUNKS {
            bytes += self.node_chunk_layout(self.node_chunks.size(k) as usize).bytes as u64;
            k += 1;
        }
        bytes
    }
}

#[derive(Clone, Copy, Debug)]
pub struct NodeChunkLayout {
    pub l0_off: usize,
    pub info_off: usize,
    pub f32_off: usize,
    pub bytes: usize,
}

pub fn params_crc(p: &Params) -> u32 {
    let mut q = *p;
    q.params_crc = 0;
    crc32fast::hash(bytemuck::bytes_of(&q))
}

pub fn state_crc(s: &State) -> u32 {
    let mut q = *s;
    q.seq = 0;
    q.state_crc = 0;
    crc32fast::hash(bytemuck::bytes_of(&q))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fits() {
        assert!(STATE_OFFSET >= std::mem::size_of::<Params>());
        assert!(NODE_DIR_OFFSET >= STATE_OFFSET + std::mem::size_of::<State>());
        assert!(UPPER_DIR_OFFSET + 8 * MAX_CHUNKS <= HEADER_SIZE);
        assert_eq!(std::mem::size_of::<NodeInfo>(), INFO_SIZE);
        // tests/durability edits these bytes to fake a publish from another boot.
        assert_eq!((std::mem::offset_of!(State, unsynced_boot), std::mem::offset_of!(State, state_crc)), (96, 128));
        assert_eq!(std::mem::size_of::<State>(), 136);
    }

    #[test]
    fn chunk_rule_locates_every_id() {
        let r = ChunkRule { min_shift: 6, max_shift: 10 };
        let mut k = 0;
        let mut seen = 0u64;
        for id in 0..20_000u64 {
            let (c, i) = r.locate(id);
            if c != k {
                assert_eq!(c, k + 1);
                assert_eq!(seen, r.size(k));
                k = c;
                seen = 0;
            }
            assert_eq!(r.start(c) + i, id);
            assert!(i < r.size(c));
            seen += 1;
        }
        assert_eq!(r.size(0), 64);
        assert_eq!(r.size(1), 64);
        assert_eq!(r.size(2), 128);
        assert_eq!(r.size(9), 1024);
    }

    #[test]
    fn file_bytes_grow_with_nodes() {
        let g = Geometry::new(384, 16);
        let empty = g.file_bytes_for(0);
        assert_eq!(empty, (HEADER_SIZE + g.centre_bytes()) as u64);
        let one = g.file_bytes_for(1);
        assert!(one > empty);
        assert_eq!(g.file_bytes_for(g.node_chunks.size(0)), one);
        let million = g.file_bytes_for(1_000_000);
        // ≥ the rows themselves: int8 + layer-0 list + info + f32 per node.
        assert!(million >= 1_000_000 * (g.i8_stride + g.l0_stride + INFO_SIZE + g.f32_stride) as u64);
    }

    #[test]
    fn rows_are_64_byte_aligned() {
        for dims in [1, 3, 96, 384, 1536, 3072, 16000] {
            for m in [2, 16, 100] {
                let g = Geometry::new(dims, m);
                for s in [g.i8_stride, g.l0_stride, g.f32_stride, g.upper_stride] {
                    assert_eq!(s % 64, 0);
                }
                let n = g.node_chunks.size(0) as usize;
                let l = g.node_chunk_layout(n);
                assert_eq!(l.l0_off % 64, 0);
                assert_eq!(l.info_off % 64, 0);
                assert_eq!(l.f32_off % 64, 0);
                assert!(g.node_chunks.capacity() > 1_000_000 || dims > 3000);
            }
        }
    }
}
