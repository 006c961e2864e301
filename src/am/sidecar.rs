//! Binding an index relation to its sidecar: where the file lives, the per-backend cache of
//! open sidecars, catching a sidecar up with the log, and rebuilding it from the log.
//!
//! Rule (DESIGN.md): the sidecar never gets ahead of durable WAL. Entries are applied only
//! after `XLogFlush` of the highest page LSN they were read from (on a standby, replayed
//! pages are durable already), and the sidecar publishes nodes only after its own fsync.
use super::pages::{self, Entry, LogPos, LogReader, Meta};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use vecmap_engine::hnsw;
use vecmap_engine::quant::Quantizer;
use vecmap_engine::sidecar::{Identity, Sidecar, WriterLock};
use vecmap_engine::{Error, Metric};

/// Entries an inserting backend lets pile up before it applies them to the graph.
pub const APPLY_BATCH: u64 = 128;
/// A scan applies the tail itself (if it can take the lock) past this many entries.
pub const SCAN_APPLY: u64 = 1024;
/// Most vectors sampled to fit the quantizer.
const QUANT_SAMPLE: usize = 50_000;
/// Fewest vectors sampled, whatever maintenance_work_mem says (≤ 64 MB at 16,000 dims).
const QUANT_SAMPLE_MIN: usize = 1_000;

/// Rows of `dims` f32 the quantizer sample may hold: at most `maintenance_work_mem` bytes, so a
/// build of high-dimensional vectors does not hold gigabytes of samples (50,000 × 16,000 dims
/// would be 3.2 GB), but never fewer than QUANT_SAMPLE_MIN rows.
pub fn quant_sample_rows(dims: usize) -> usize {
    // SAFETY: reading an int GUC on the main thread.
    let budget = unsafe { pg_sys::maintenance_work_mem } as usize * 1024;
    (budget / (4 * dims.max(1))).clamp(QUANT_SAMPLE_MIN, QUANT_SAMPLE)
}

/// Sidecar directory: `$PGDATA/vecmap` (outside `base/`, see PGRX-NOTES.md), as a path relative
/// to the data directory, which is every backend's working directory. Like Postgres' own
/// `base/…` paths, it is what error messages show, so they never reveal where the data
/// directory lives (issue #9); superusers see the absolute path in `vecmap_index_stats`.
pub fn sidecar_dir() -> PathBuf {
    PathBuf::from("vecmap")
}

/// The data directory (absolute), for the few places that show it to superusers.
pub fn data_dir() -> PathBuf {
    // SAFETY: DataDir is set for the life of every backend.
    PathBuf::from(unsafe { std::ffi::CStr::from_ptr(pg_sys::DataDir) }.to_string_lossy().into_owned())
}

/// Creates the sidecar directory if missing, owner-only (0700) like the data directory.
pub fn create_sidecar_dir() -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(sidecar_dir())
}

/// `$PGDATA/vecmap/<spc>_<db>_<relfilenode>.vmap`
pub unsafe fn sidecar_path(index: pg_sys::Relation) -> PathBuf {
    // SAFETY: rd_node is valid for an open relation.
    let n = unsafe { (*index).rd_node };
    sidecar_dir().join(format!("{}_{}_{}.vmap", n.spcNode.to_u32(), n.dbNode.to_u32(), n.relNode.to_u32()))
}

pub fn identity(meta: &Meta) -> Identity {
    Identity {
        build_id: meta.build_id,
        dims: meta.dims,
        metric: Metric::from_u32(meta.metric).unwrap_or(Metric::L2),
        m: meta.m,
        ef_construction: meta.ef_construction,
    }
}

pub type Handle = Rc<RefCell<Sidecar>>;

thread_local! {
    static CACHE: RefCell<HashMap<PathBuf, Handle>> = RefCell::new(HashMap::new());
}

/// The cached, refreshed sidecar for this index if it exists and matches the metapage.
/// Err(e) with `e.needs_rebuild()` means missing or unusable.
pub unsafe fn open(index: pg_sys::Relation, meta: &Meta) -> Result<Handle, Error> {
    // SAFETY: open relation.
    let path = unsafe { sidecar_path(index) };
    let id = identity(meta);
    let cached = CACHE.with(|c| c.borrow().get(&path).cloned());
    if let Some(h) = cached {
        let ok = {
            let mut sc = h.borrow_mut();
            sc.params().build_id == id.build_id && sc.refresh()?
        };
        if ok {
            return Ok(h);
        }
        CACHE.with(|c| c.borrow_mut().remove(&path));
    }
    let sc = Sidecar::open(&path, id)?;
    let h = Rc::new(RefCell::new(sc));
    CACHE.with(|c| c.borrow_mut().insert(path, h.clone()));
    Ok(h)
}

fn forget(path: &std::path::Path) {
    CACHE.with(|c| c.borrow_mut().remove(path));
}

/// Worker threads for graph construction, created with all signals blocked so Postgres'
/// handlers only ever run on the backend's main thread.
pub fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        with_signals_blocked(|| {
            let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            rayon::ThreadPoolBuilder::new().num_threads(n).thread_name(|i| format!("vecmap-{i}")).build().expect("thread pool")
        })
    })
}

fn with_signals_blocked<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: saving and restoring this thread's signal mask around thread creation.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        let r = f();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        r
    }
}

/// Raised by the Postgres main thread while workers run: reports progress, honours cancel.
pub trait Progress {
    fn report(&mut self, done: u64);
}

pub struct NoProgress;
impl Progress for NoProgress {
    fn report(&mut self, _: u64) {}
}

/// Runs `add_nodes` on the pool while the main thread polls for interrupts (cancel within
/// ~100 ms) and reports progress; raises the pending interrupt after the workers stopped.
fn add_nodes_interruptible(sc: &mut Sidecar, first: u32, end: u32, skip: &(dyn Fn(u32) -> bool + Sync), progress: &mut dyn Progress) -> Result<(), Error> {
    if end - first < 64 {
        return hnsw::add_nodes_except(sc, first, end, None, &AtomicU64::new(0), &AtomicBool::new(false), skip);
    }
    let done = AtomicU64::new(0);
    let cancel = AtomicBool::new(false);
    let (tx, rx) = std::sync::mpsc::channel();
    let res = std::thread::scope(|s| {
        let (done, cancel) = (&done, &cancel);
        with_signals_blocked(|| {
            s.spawn(move || {
                let r = hnsw::add_nodes_except(sc, first, end, Some(pool()), done, cancel, skip);
                let _ = tx.send(r);
            })
        });
        loop {
            match rx.recv_timeout(std::time::Duration::from_millis(100)) {
                Ok(r) => return r,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    // Only a cancel or a termination stops the build; other interrupts (sinval
                    // catch-up, barriers) are serviced after the workers are done.
                    // SAFETY: reading sig_atomic_t flags set by signal handlers.
                    let stop = unsafe { std::ptr::read_volatile(&raw const pg_sys::QueryCancelPending) != 0 || std::ptr::read_volatile(&raw const pg_sys::ProcDiePending) != 0 };
                    if stop {
                        cancel.store(true, Ordering::Relaxed);
                    }
                    progress.report(done.load(Ordering::Relaxed));
                }
                Err(_) => return Err(Error::Cancelled),
            }
        }
    });
    // Raises the cancel (or services whatever else is pending) now that no worker runs.
    check_for_interrupts!();
    res
}

/// Applies log entries from the sidecar's position to `meta.tail`. Caller holds the writer
/// lock and passes a sidecar opened (or created) under it.
fn apply(index: pg_sys::Relation, sc: &mut Sidecar, meta: &Meta, progress: &mut dyn Progress) -> Result<(), Error> {
    let st = *sc.state();
    let from = if st.log_entries == 0 { LogPos::START } else { LogPos { block: st.log_block, offset: st.log_offset } };
    if from == meta.tail {
        return Ok(());
    }
    let metric = sc.metric();
    let dims = sc.dims();
    let mut reader = LogReader::new(index, from, meta.tail);
    let first = st.node_count as u32;
    let mut next = first;
    let mut entries = st.log_entries;
    let mut deletes: Vec<u32> = Vec::new();
    let mut buf = Vec::with_capacity(dims);
    let mut pending_tids: Vec<([u16; 3], bool)> = Vec::new();
    let sample_rows = quant_sample_rows(dims);
    while let Some(e) = reader.next() {
        entries += 1;
        // Reading a long log (a rebuild of millions of rows) stays cancellable; an ERROR here
        // publishes nothing, and a rebuild's temporary file is removed as the stack unwinds.
        if entries % 4096 == 0 {
            check_for_interrupts!();
        }
        match e {
            Entry::Insert { tid, vector } => {
                if vector.len() != dims {
                    return Err(Error::Invalid(format!("log entry has {} dimensions, index has {dims}", vector.len())));
                }
                // Vectors the metric cannot index (zero under cosine) become deleted nodes.
                let ok = metric.prepare(&vector, &mut buf);
                if !ok {
                    buf.clear();
                    buf.resize(dims, 0.0);
                }
                sc.reserve(next as u64 + 1, 0)?;
                sc.write_vector(next, tid, &buf);
                pending_tids.push((tid, ok));
                next += 1;
            }
            Entry::Delete { nodes } => deletes.extend(nodes),
        }
    }
    // Durable first: never publish entries whose WAL could still be lost.
    // SAFETY: plain WAL calls on the main thread.
    unsafe {
        if !pg_sys::RecoveryInProgress() && reader.max_lsn > 0 {
            pg_sys::XLogFlush(reader.max_lsn);
        }
    }
    if sc.quantizer().is_none() && next > first {
        // Fit on rows spread evenly over the whole batch (a rebuild: the whole log), not its
        // first rows: a table loaded in a drifting order is represented from start to end.
        let stride = (next - first).div_ceil(sample_rows as u32).max(1);
        let mut sample: Vec<f32> = Vec::new();
        for (i, (_, ok)) in pending_tids.iter().enumerate().step_by(stride as usize) {
            if *ok {
                sample.extend_from_slice(sc.vector(first + i as u32));
            }
        }
        if sample.is_empty() {
            sample.resize(dims, 0.0);
        }
        sc.set_quantizer(Quantizer::fit(&sample, dims));
    }
    // Rows already deleted further down the log (or not indexable) are never linked, so a
    // rebuild from the log is also a compaction of the graph.
    let dead: std::collections::HashSet<u32> = deletes
        .iter()
        .copied()
        .filter(|&id| id >= first && id < next)
        .chain(pending_tids.iter().enumerate().filter(|(_, (_, ok))| !ok).map(|(i, _)| first + i as u32))
        .collect();
    add_nodes_interruptible(sc, first, next, &|id| dead.contains(&id), progress)?;
    let count = sc.state().node_count;
    let mut newly = 0u64;
    for id in dead.iter().copied().chain(deletes) {
        if (id as u64) < count && sc.set_deleted(id) {
            newly += 1;
        }
    }
    let end = reader.position();
    let s = sc.state_mut();
    s.deleted += newly;
    s.log_entries = entries;
    s.log_block = end.block;
    s.log_offset = end.offset;
    sc.publish()
}

/// Builds a new sidecar from the whole log into a temporary file and renames it into place;
/// the old file (if any) is marked superseded. Caller holds the writer lock.
pub fn rebuild(index: pg_sys::Relation, meta: &Meta, progress: &mut dyn Progress) -> Result<(), Error> {
    // SAFETY: open relation.
    let path = unsafe { sidecar_path(index) };
    let dir = sidecar_dir();
    create_sidecar_dir().map_err(|e| Error::io(&dir, e))?;
    let tmp = path.with_extension(format!("vmap.tmp{}", std::process::id()));
    let guard = RemoveOnDrop(Some(tmp.clone()));
    let mut sc = Sidecar::create(&tmp, identity(meta))?;
    apply(index, &mut sc, meta, progress)?;
    sc.sync()?;
    if let Ok(mut old) = Sidecar::open(&path, identity(meta)) {
        old.mark_superseded();
    }
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    std::mem::forget(guard);
    forget(&path);
    Ok(())
}

struct RemoveOnDrop(Option<PathBuf>);
impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Turns an engine error into the right ereport.
pub fn raise(index: pg_sys::Relation, e: Error) -> ! {
    // SAFETY: open relation.
    let name = unsafe { pages::relname(index) };
    let (code, msg) = match &e {
        Error::DiskFull { .. } => (PgSqlErrorCode::ERRCODE_DISK_FULL, format!("vecmap index \"{name}\": {e}")),
        Error::Cancelled => (PgSqlErrorCode::ERRCODE_QUERY_CANCELED, "canceling statement due to user request".to_string()),
        Error::Invalid(m) => (PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED, format!("vecmap index \"{name}\": {m}")),
        e => (PgSqlErrorCode::ERRCODE_IO_ERROR, format!("vecmap index \"{name}\": {e}")),
    };
    ereport!(ERROR, code, msg);
}

/// Brings the sidecar up to `meta.tail` if this backend can take the writer lock (or
/// `wait`s for it); rebuilds a missing or unusable sidecar with a WARNING. Returns the
/// handle when one is usable afterwards (possibly still behind, if another backend holds
/// the lock and we did not wait).
pub unsafe fn catch_up(index: pg_sys::Relation, meta: &Meta, wait: bool, progress: &mut dyn Progress) -> Option<Handle> {
    if meta.dims == 0 {
        return None;
    }
    // SAFETY: open relation.
    let path = unsafe { sidecar_path(index) };
    let dir = sidecar_dir();
    if let Err(e) = create_sidecar_dir() {
        raise(index, Error::io(&dir, e));
    }
    let lock = match if wait { WriterLock::lock_blocking(&path).map(Some) } else { WriterLock::try_lock(&path) } {
        Ok(l) => l,
        Err(e) => raise(index, e),
    };
    let Some(_lock) = lock else {
        // SAFETY: as above.
        return unsafe { open(index, meta) }.ok();
    };
    // SAFETY: as above.
    match unsafe { open(index, meta) } {
        Ok(h) => {
            let r = apply(index, &mut h.borrow_mut(), meta, progress);
            match r {
                Ok(()) => Some(h),
                Err(e) if e.needs_rebuild() => {
                    forget(&path);
                    rebuild_warn(index, meta, &e, progress)
                }
                Err(e) => raise(index, e),
            }
        }
        Err(e) if e.needs_rebuild() => {
            let missing = matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound);
            if missing && meta.entries == 0 {
                // Nothing to apply yet: an empty index needs no file.
                return None;
            }
            rebuild_warn(index, meta, &e, progress)
        }
        Err(e) => raise(index, e),
    }
}

/// Rebuilds the graph from the log under the writer lock (waiting for it); deleted rows are
/// left out of the new graph.
pub unsafe fn compact(index: pg_sys::Relation, meta: &Meta) {
    // SAFETY: open relation.
    let path = unsafe { sidecar_path(index) };
    let _lock = match WriterLock::lock_blocking(&path) {
        Ok(l) => l,
        Err(e) => raise(index, e),
    };
    if let Err(e) = rebuild(index, meta, &mut NoProgress) {
        raise(index, e);
    }
}

/// VACUUM's reachability walk for graphs too large for the walk after every batch (see
/// `hnsw::repair_graph`; the caller checks the size), under the writer lock (waiting for it).
/// Returns the links added.
pub unsafe fn repair_graph(index: pg_sys::Relation, meta: &Meta) -> u64 {
    // SAFETY: open relation.
    let path = unsafe { sidecar_path(index) };
    let _lock = match WriterLock::lock_blocking(&path) {
        Ok(l) => l,
        Err(e) => raise(index, e),
    };
    // SAFETY: as above.
    let Ok(h) = (unsafe { open(index, meta) }) else {
        return 0;
    };
    let mut sc = h.borrow_mut();
    let added = hnsw::repair_graph(&sc);
    if added > 0 {
        if let Err(e) = sc.publish() {
            raise(index, e);
        }
    }
    added
}

fn rebuild_warn(index: pg_sys::Relation, meta: &Meta, why: &Error, progress: &mut dyn Progress) -> Option<Handle> {
    // SAFETY: open relation.
    let name = unsafe { pages::relname(index) };
    pgrx::warning!("vecmap index \"{name}\": rebuilding its sidecar from the index log ({why})");
    if let Err(e) = rebuild(index, meta, progress) {
        raise(index, e);
    }
    // SAFETY: as above.
    unsafe { open(index, meta) }.ok()
}
