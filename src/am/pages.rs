//! The index relation's pages — the durable truth the sidecar is derived from.
//!
//! Block 0 is the metapage. Blocks 1.. hold an append-only log: a byte stream of entries
//! that may span pages (so any dimension up to 16000 fits). Entry = 16-byte header
//! `{kind u8, pad u8, tid [u16;3], count u32, pad u32}` + payload: an insert carries
//! `count` f32 (the raw vector), a delete mark `count` u32 node ids. Appends are WAL-logged
//! with generic WAL; the metapage's tail pointer moves in the same record as the last bytes,
//! so a crash mid-append leaves only unreferenced bytes past the tail.
use pgrx::pg_sys;

pub const META_BLOCK: u32 = 0;
pub const FIRST_LOG_BLOCK: u32 = 1;
pub const META_MAGIC: u32 = 0x5645_4d41; // "VEMA"
pub const META_VERSION: u32 = 1;
const BLCKSZ: usize = pg_sys::BLCKSZ as usize;
/// MAXALIGN(SizeOfPageHeaderData)
pub const CONTENTS: usize = 24;
pub const USABLE: usize = BLCKSZ - CONTENTS;
pub const ENTRY_HEADER: usize = 16;
pub const KIND_INSERT: u8 = 1;
pub const KIND_DELETE: u8 = 2;
/// Generic WAL takes at most 4 buffers per record: 3 log pages + the metapage.
const PAGES_PER_RECORD: usize = 3;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Meta {
    pub magic: u32,
    pub version: u32,
    /// 0 until the first vector fixes it (unconstrained `vector` column).
    pub dims: u32,
    pub metric: u32,
    pub m: u32,
    pub ef_construction: u32,
    /// Random identity of this index build; the sidecar must carry the same.
    pub build_id: u64,
    /// Log entries written (inserts + delete marks).
    pub entries: u64,
    /// Insert entries written; insert number i becomes graph node i.
    pub inserts: u64,
    pub tail: LogPos,
    pub pad: [u64; 4],
}

/// A position in the log stream: block and byte offset inside the page's contents.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LogPos {
    pub block: u32,
    pub offset: u32,
}

impl LogPos {
    pub const START: LogPos = LogPos { block: FIRST_LOG_BLOCK, offset: 0 };
}

/// One decoded log entry.
pub enum Entry {
    Insert { tid: [u16; 3], vector: Vec<f32> },
    Delete { nodes: Vec<u32> },
}

pub fn encode_insert(out: &mut Vec<u8>, tid: [u16; 3], v: &[f32]) {
    let mut h = [0u8; ENTRY_HEADER];
    h[0] = KIND_INSERT;
    h[2..8].copy_from_slice(bytemuck::bytes_of(&tid));
    h[8..12].copy_from_slice(&(v.len() as u32).to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(bytemuck::cast_slice(v));
}

pub fn encode_delete(out: &mut Vec<u8>, nodes: &[u32]) {
    let mut h = [0u8; ENTRY_HEADER];
    h[0] = KIND_DELETE;
    h[8..12].copy_from_slice(&(nodes.len() as u32).to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(bytemuck::cast_slice(nodes));
}

/// Pins and share- or exclusive-locks `block`.
unsafe fn read_locked(index: pg_sys::Relation, block: u32, mode: u32) -> pg_sys::Buffer {
    // SAFETY: caller holds a lock on the index relation; block exists.
    unsafe {
        let buf = pg_sys::ReadBufferExtended(index, pg_sys::ForkNumber::MAIN_FORKNUM, block, pg_sys::ReadBufferMode::RBM_NORMAL, std::ptr::null_mut());
        pg_sys::LockBuffer(buf, mode as i32);
        buf
    }
}

unsafe fn contents(page: pg_sys::Page) -> *mut u8 {
    // SAFETY: a page is BLCKSZ bytes; contents start after the MAXALIGNed header.
    unsafe { (page as *mut u8).add(CONTENTS) }
}

unsafe fn set_lower(page: pg_sys::Page, used: usize) {
    // SAFETY: page is a valid, initialized page we hold exclusively.
    unsafe { (*(page as *mut pg_sys::PageHeaderData)).pd_lower = (CONTENTS + used) as u16 };
}

/// Reads the metapage (share lock, copied out).
pub unsafe fn read_meta(index: pg_sys::Relation) -> Meta {
    // SAFETY: block 0 exists for every vecmap index (written by ambuild/ambuildempty).
    unsafe {
        let buf = read_locked(index, META_BLOCK, pg_sys::BUFFER_LOCK_SHARE);
        let page = pg_sys::BufferGetPage(buf);
        let meta: Meta = std::ptr::read_unaligned(contents(page) as *const Meta);
        pg_sys::UnlockReleaseBuffer(buf);
        if meta.magic != META_MAGIC || meta.version != META_VERSION {
            pgrx::error!("vecmap index \"{}\" has an unknown metapage version; REINDEX it", relname(index));
        }
        meta
    }
}

pub unsafe fn relname(index: pg_sys::Relation) -> String {
    // SAFETY: rd_rel is valid for an open relation; relname is NUL-terminated.
    unsafe { std::ffi::CStr::from_ptr((*(*index).rd_rel).relname.data.as_ptr()).to_string_lossy().into_owned() }
}

/// Writes a fresh metapage into `fork` (ambuild: main fork, no WAL yet; ambuildempty: init
/// fork, WAL-logged by the caller via log_newpage).
pub unsafe fn init_meta_page(page: pg_sys::Page, meta: &Meta) {
    // SAFETY: page is a BLCKSZ buffer we own exclusively.
    unsafe {
        pg_sys::PageInit(page, BLCKSZ, 0);
        std::ptr::write_unaligned(contents(page) as *mut Meta, *meta);
        set_lower(page, std::mem::size_of::<Meta>());
    }
}

fn nblocks(index: pg_sys::Relation) -> u32 {
    // SAFETY: open relation.
    unsafe { pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM) }
}

/// Pins and exclusively locks `block`, extending the relation when it does not exist yet.
unsafe fn get_block_for_write(index: pg_sys::Relation, block: u32) -> pg_sys::Buffer {
    // SAFETY: caller holds the metapage exclusively, so no one else extends for the log.
    unsafe {
        if block < nblocks(index) {
            return read_locked(index, block, pg_sys::BUFFER_LOCK_EXCLUSIVE);
        }
        pg_sys::LockRelationForExtension(index, pg_sys::ExclusiveLock as i32);
        let mut buf;
        loop {
            buf = pg_sys::ReadBufferExtended(index, pg_sys::ForkNumber::MAIN_FORKNUM, pg_sys::InvalidBlockNumber, pg_sys::ReadBufferMode::RBM_NORMAL, std::ptr::null_mut());
            let got = pg_sys::BufferGetBlockNumber(buf);
            if got >= block {
                break;
            }
            pg_sys::ReleaseBuffer(buf);
        }
        pg_sys::UnlockRelationForExtension(index, pg_sys::ExclusiveLock as i32);
        pg_sys::LockBuffer(buf, pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
        buf
    }
}

/// Appends encoded entries (`n_entries` of them, `n_inserts` inserts) under the metapage's
/// exclusive lock with generic WAL. Returns (meta after the append, LSN of the last record).
pub unsafe fn append(index: pg_sys::Relation, bytes: &[u8], n_entries: u64, n_inserts: u64, set_dims: u32) -> (Meta, pg_sys::XLogRecPtr) {
    // SAFETY: standard buffer protocol; every registered page is modified only through the
    // generic WAL image pointer returned by GenericXLogRegisterBuffer.
    unsafe {
        let meta_buf = read_locked(index, META_BLOCK, pg_sys::BUFFER_LOCK_EXCLUSIVE);
        let mut meta: Meta = std::ptr::read_unaligned(contents(pg_sys::BufferGetPage(meta_buf)) as *const Meta);
        let mut pos = meta.tail;
        let mut rest = bytes;
        let mut lsn;
        loop {
            let state = pg_sys::GenericXLogStart(index);
            let mut held = Vec::with_capacity(PAGES_PER_RECORD);
            while !rest.is_empty() && held.len() < PAGES_PER_RECORD {
                let buf = get_block_for_write(index, pos.block);
                let fresh = pos.offset == 0;
                let flags = if fresh { pg_sys::GENERIC_XLOG_FULL_IMAGE as i32 } else { 0 };
                let page = pg_sys::GenericXLogRegisterBuffer(state, buf, flags);
                if fresh {
                    pg_sys::PageInit(page, BLCKSZ, 0);
                }
                let n = rest.len().min(USABLE - pos.offset as usize);
                std::ptr::copy_nonoverlapping(rest.as_ptr(), contents(page).add(pos.offset as usize), n);
                set_lower(page, pos.offset as usize + n);
                rest = &rest[n..];
                pos.offset += n as u32;
                if pos.offset as usize == USABLE {
                    pos = LogPos { block: pos.block + 1, offset: 0 };
                }
                held.push(buf);
            }
            let last = rest.is_empty();
            if last {
                let page = pg_sys::GenericXLogRegisterBuffer(state, meta_buf, 0);
                meta.tail = pos;
                meta.entries += n_entries;
                meta.inserts += n_inserts;
                if meta.dims == 0 {
                    meta.dims = set_dims;
                }
                std::ptr::write_unaligned(contents(page) as *mut Meta, meta);
            }
            lsn = pg_sys::GenericXLogFinish(state);
            for b in held {
                pg_sys::UnlockReleaseBuffer(b);
            }
            if last {
                break;
            }
        }
        pg_sys::UnlockReleaseBuffer(meta_buf);
        (meta, lsn)
    }
}

/// Sequential reader of log entries between two positions (share locks, one page at a time).
pub struct LogReader {
    index: pg_sys::Relation,
    pos: LogPos,
    end: LogPos,
    buf: Vec<u8>,
    /// Highest page LSN seen: the WAL that must be durable before these entries are applied.
    pub max_lsn: u64,
}

impl LogReader {
    pub fn new(index: pg_sys::Relation, from: LogPos, end: LogPos) -> LogReader {
        LogReader { index, pos: from, end, buf: Vec::new(), max_lsn: 0 }
    }

    pub fn position(&self) -> LogPos {
        self.pos
    }

    /// Copies the next `n` bytes of the stream into `self.buf` (replacing it).
    unsafe fn read_bytes(&mut self, n: usize) -> bool {
        self.buf.clear();
        let mut need = n;
        while need > 0 {
            if self.pos.block > self.end.block || (self.pos.block == self.end.block && self.pos.offset >= self.end.offset) {
                return false;
            }
            // SAFETY: blocks ≤ end.block exist (they were written before the metapage moved).
            unsafe {
                let buf = read_locked(self.index, self.pos.block, pg_sys::BUFFER_LOCK_SHARE);
                let page = pg_sys::BufferGetPage(buf);
                let hdr = page as *const pg_sys::PageHeaderData;
                let lsn = ((*hdr).pd_lsn.xlogid as u64) << 32 | (*hdr).pd_lsn.xrecoff as u64;
                self.max_lsn = self.max_lsn.max(lsn);
                let limit = if self.pos.block == self.end.block { self.end.offset as usize } else { USABLE };
                let take = need.min(limit - self.pos.offset as usize);
                let src = std::slice::from_raw_parts(contents(page).add(self.pos.offset as usize), take);
                self.buf.extend_from_slice(src);
                pg_sys::UnlockReleaseBuffer(buf);
                need -= take;
                self.pos.offset += take as u32;
                if self.pos.offset as usize == USABLE {
                    self.pos = LogPos { block: self.pos.block + 1, offset: 0 };
                }
                if take == 0 {
                    return false;
                }
            }
        }
        true
    }

    /// The next entry, or None at the end. A malformed entry is an ERROR (pages are WAL-
    /// protected and checksummed by Postgres, so this means a bug or a foreign relation).
    pub fn next(&mut self) -> Option<Entry> {
        // SAFETY: see read_bytes.
        unsafe {
            if !self.read_bytes(ENTRY_HEADER) {
                return None;
            }
            let kind = self.buf[0];
            let tid: [u16; 3] = bytemuck::pod_read_unaligned(&self.buf[2..8]);
            let count = u32::from_le_bytes(self.buf[8..12].try_into().unwrap()) as usize;
            if count > 1 << 20 || !(kind == KIND_INSERT || kind == KIND_DELETE) {
                pgrx::error!("vecmap index \"{}\": malformed log entry at block {}", relname(self.index), self.pos.block);
            }
            if !self.read_bytes(4 * count) {
                pgrx::error!("vecmap index \"{}\": truncated log entry", relname(self.index));
            }
            if kind == KIND_INSERT {
                Some(Entry::Insert { tid, vector: bytemuck::pod_collect_to_vec(&self.buf) })
            } else {
                Some(Entry::Delete { nodes: bytemuck::pod_collect_to_vec(&self.buf) })
            }
        }
    }
}

/// Writes log pages during CREATE INDEX without WAL (the caller logs the whole relation
/// with log_newpage_range afterwards, as pgvector does).
pub struct BuildWriter {
    index: pg_sys::Relation,
    page: Vec<u8>,
    used: usize,
    block: u32,
}

impl BuildWriter {
    pub fn new(index: pg_sys::Relation) -> BuildWriter {
        BuildWriter { index, page: vec![0; USABLE], used: 0, block: FIRST_LOG_BLOCK }
    }

    pub fn write(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = bytes.len().min(USABLE - self.used);
            self.page[self.used..self.used + n].copy_from_slice(&bytes[..n]);
            self.used += n;
            bytes = &bytes[n..];
            if self.used == USABLE {
                self.flush_page();
            }
        }
    }

    fn flush_page(&mut self) {
        if self.used == 0 {
            return;
        }
        // SAFETY: the index is new and locked by CREATE INDEX; we extend it block by block.
        unsafe {
            let buf = get_block_for_write(self.index, self.block);
            let page = pg_sys::BufferGetPage(buf);
            pg_sys::PageInit(page, BLCKSZ, 0);
            std::ptr::copy_nonoverlapping(self.page.as_ptr(), contents(page), self.used);
            set_lower(page, self.used);
            pg_sys::MarkBufferDirty(buf);
            pg_sys::UnlockReleaseBuffer(buf);
        }
        if self.used == USABLE {
            self.block += 1;
            self.used = 0;
        }
    }

    /// Flushes the partial last page and returns the tail position.
    pub fn finish(mut self) -> LogPos {
        let used = self.used;
        self.flush_page();
        LogPos { block: self.block, offset: used as u32 % USABLE as u32 }
    }
}

/// Rewrites the metapage in place (ambuild only, before WAL-logging the relation).
pub unsafe fn write_meta_nowal(index: pg_sys::Relation, meta: &Meta) {
    // SAFETY: block 0 exists (created first by ambuild); we hold it exclusively.
    unsafe {
        let buf = get_block_for_write(index, META_BLOCK);
        init_meta_page(pg_sys::BufferGetPage(buf), meta);
        pg_sys::MarkBufferDirty(buf);
        pg_sys::UnlockReleaseBuffer(buf);
    }
}
