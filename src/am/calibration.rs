//! Where a recall calibration lives, and how a scan turns `vecmap.target_recall` into an ef.
//!
//! **Storage: the index's own metapage**, `CALIB_OFFSET` bytes into its contents (after the
//! `Meta` struct), written with generic WAL. Why there and not in an extension table keyed by
//! the index OID:
//! - it is durable and replicated like the index: a streaming standby or a base backup has
//!   the same calibration, and a standby scan with `target_recall` picks the same ef;
//! - it lives and dies with the index: DROP needs no cleanup, and a reused OID can never
//!   inherit another index's curve;
//! - it describes one index build: every build (CREATE INDEX, REINDEX, VACUUM FULL,
//!   pg_restore, TRUNCATE) writes a fresh metapage with a new `build_id` and so starts
//!   uncalibrated — the rows or parameters may differ. Scans then use the conservative
//!   default curve and say so once, pointing at `vecmap_tune`. A calibration records the
//!   build it measured and is ignored if that ever disagrees with the metapage. Graphs rebuilt
//!   from the same log (VACUUM's compaction, a sidecar rebuilt after corruption, on a standby
//!   or after an upgrade) keep the `build_id` and so the curve: same rows, same `m` and
//!   `ef_construction`, the same recall per ef up to build-to-build noise.
//!
//! The write is not transactional (like a sequence): a `vecmap_tune` whose transaction rolls
//! back still leaves its measurement. The page's `pd_lower` is raised to cover the bytes, so
//! generic WAL (which zeroes and skips the hole between `pd_lower` and `pd_upper`) and later
//! metapage updates by log appends keep them.
use super::pages::{self, Meta, CONTENTS, META_BLOCK, USABLE};
use pgrx::pg_sys;
use std::cell::RefCell;
use std::collections::HashSet;
use vecmap_engine::tune::{default_ef, Calibration, ENCODED_LEN};

/// Offset of the calibration inside the metapage's contents (room for `Meta` to grow).
pub const CALIB_OFFSET: usize = 1024;
const _: () = assert!(std::mem::size_of::<Meta>() <= CALIB_OFFSET && CALIB_OFFSET + ENCODED_LEN <= USABLE);

/// Where a scan's ef came from (shown by EXPLAIN ANALYZE).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum EfSource {
    /// `vecmap.ef_search` (target_recall off).
    #[default]
    EfSearch,
    /// The index's calibration for `target`; `meets` is false when no measured ef reached it.
    Tuned { target: f64, meets: bool },
    /// The default curve: the index was never tuned.
    Default { target: f64 },
}

impl EfSource {
    pub fn describe(&self) -> String {
        match *self {
            EfSource::EfSearch => "vecmap.ef_search".into(),
            EfSource::Tuned { target, meets: true } => format!("target_recall {target}, tuned"),
            EfSource::Tuned { target, meets: false } => format!("target_recall {target} not reached, best tuned ef"),
            EfSource::Default { target } => format!("target_recall {target}, untuned default"),
        }
    }
}

/// Reads the calibration of `index` (share lock on the metapage). None when never tuned or
/// when it belongs to another build.
pub unsafe fn read(index: pg_sys::Relation, build_id: u64) -> Option<Calibration> {
    // SAFETY: block 0 exists for every vecmap index; we copy out under a share lock and read
    // only below pd_lower (the page's initialised part).
    unsafe {
        let buf = pg_sys::ReadBufferExtended(index, pg_sys::ForkNumber::MAIN_FORKNUM, META_BLOCK, pg_sys::ReadBufferMode::RBM_NORMAL, std::ptr::null_mut());
        pg_sys::LockBuffer(buf, pg_sys::BUFFER_LOCK_SHARE as i32);
        let page = pg_sys::BufferGetPage(buf) as *const u8;
        let lower = (*(page as *const pg_sys::PageHeaderData)).pd_lower as usize;
        let start = CONTENTS + CALIB_OFFSET;
        let cal = if lower >= start + ENCODED_LEN { Calibration::decode(std::slice::from_raw_parts(page.add(start), ENCODED_LEN)) } else { None };
        pg_sys::UnlockReleaseBuffer(buf);
        cal.filter(|c| c.build_id == build_id)
    }
}

/// Stores `cal` in the metapage with generic WAL (exclusive lock on the metapage only) and
/// flushes that WAL.
pub unsafe fn write(index: pg_sys::Relation, cal: &Calibration) {
    let bytes = cal.encode();
    // SAFETY: standard generic-WAL protocol on block 0; we change only the calibration bytes
    // and raise pd_lower over them.
    unsafe {
        let buf = pg_sys::ReadBufferExtended(index, pg_sys::ForkNumber::MAIN_FORKNUM, META_BLOCK, pg_sys::ReadBufferMode::RBM_NORMAL, std::ptr::null_mut());
        pg_sys::LockBuffer(buf, pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
        let state = pg_sys::GenericXLogStart(index);
        let page = pg_sys::GenericXLogRegisterBuffer(state, buf, 0) as *mut u8;
        let start = CONTENTS + CALIB_OFFSET;
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), page.add(start), ENCODED_LEN);
        let hdr = page as *mut pg_sys::PageHeaderData;
        if ((*hdr).pd_lower as usize) < start + ENCODED_LEN {
            (*hdr).pd_lower = (start + ENCODED_LEN) as u16;
        }
        let lsn = pg_sys::GenericXLogFinish(state);
        pg_sys::UnlockReleaseBuffer(buf);
        // No transaction id, so no commit flushes this record: flush it here, so a curve
        // vecmap_tune returned survives a crash and reaches standbys without waiting for
        // the WAL writer.
        pg_sys::XLogFlush(lsn);
    }
}

thread_local! {
    /// (index oid, build id, what) already announced in this session.
    static NOTICED: RefCell<HashSet<(u32, u64, u8)>> = RefCell::new(HashSet::new());
}

fn notice_once(index: pg_sys::Relation, build_id: u64, what: u8, msg: impl FnOnce() -> String) {
    // SAFETY: open relation.
    let oid = unsafe { (*index).rd_id }.to_u32();
    if NOTICED.with(|n| n.borrow_mut().insert((oid, build_id, what))) {
        pgrx::notice!("{}", msg());
    }
}

/// The ef a scan of `index` would use, without notices: for the planner's cost estimate.
///
/// # Safety
/// `index` must be an open vecmap index relation.
pub unsafe fn planned_ef(index: pg_sys::Relation) -> usize {
    let target = super::options::target_recall();
    if target <= 0.0 {
        return super::options::ef_search();
    }
    // SAFETY: open relation (caller).
    let meta = unsafe { pages::read_meta(index) };
    // SAFETY: as above.
    match unsafe { read(index, meta.build_id) }.and_then(|cal| cal.choose(target)) {
        Some(c) => c.ef as usize,
        None => default_ef(target) as usize,
    }
}

/// The ef a scan of `index` uses: `vecmap.ef_search` when `vecmap.target_recall` is 0, else
/// the smallest calibrated ef that meets the target (the default curve when never tuned).
/// Announces, once per session and index, a missing or stale calibration or a target the
/// calibration cannot reach.
pub unsafe fn scan_ef(index: pg_sys::Relation, meta: &Meta) -> (usize, EfSource) {
    let target = super::options::target_recall();
    if target <= 0.0 {
        return (super::options::ef_search(), EfSource::EfSearch);
    }
    // SAFETY: open relation.
    let name = unsafe { pages::relname(index) };
    // SAFETY: as above.
    match unsafe { read(index, meta.build_id) } {
        Some(cal) => {
            let Some(c) = cal.choose(target) else {
                return (default_ef(target) as usize, EfSource::Default { target });
            };
            if !c.meets {
                notice_once(index, meta.build_id, 1, || {
                    format!("vecmap index \"{name}\" did not reach recall {target} at any measured ef; using ef = {} (its best)", c.ef)
                });
            }
            if meta.inserts > 2 * cal.rows + 1000 {
                notice_once(index, meta.build_id, 2, || {
                    format!("vecmap index \"{name}\" was tuned at {} rows and now holds about {}; run vecmap_tune('{name}') again", cal.rows, meta.inserts)
                });
            }
            (c.ef as usize, EfSource::Tuned { target, meets: c.meets })
        }
        None => {
            let ef = default_ef(target);
            notice_once(index, meta.build_id, 0, || {
                format!("vecmap index \"{name}\" has not been tuned: vecmap.target_recall = {target} uses ef = {ef} from a conservative default curve; SELECT vecmap_tune('{name}') measures the real one")
            });
            (ef as usize, EfSource::Default { target })
        }
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use super::*;
    use pgrx::prelude::*;
    use vecmap_engine::tune::CurvePoint;

    fn with_index<T>(name: &str, f: impl FnOnce(pg_sys::Relation, Meta) -> T) -> T {
        let oid = Spi::get_one::<pg_sys::Oid>(&format!("SELECT '{name}'::regclass::oid")).unwrap().unwrap();
        // SAFETY: the index exists; opened and closed around f.
        unsafe {
            let rel = pg_sys::index_open(oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            let meta = pages::read_meta(rel);
            let r = f(rel, meta);
            pg_sys::index_close(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            r
        }
    }

    /// The calibration survives log appends to the same metapage (pd_lower covers it) and a
    /// rebuild forgets it.
    #[pg_test]
    fn calibration_survives_appends_and_not_rebuilds() {
        Spi::run("CREATE TABLE cal (v vector(2))").unwrap();
        Spi::run("INSERT INTO cal SELECT ARRAY[i, i % 7]::real[]::vector FROM generate_series(1, 300) i").unwrap();
        Spi::run("CREATE INDEX cal_v ON cal USING vecmap (v)").unwrap();
        let point = CurvePoint { ef: 24, recall: 0.97, recall_low: 0.96, latency_us: 12.5, distances: 300.0 };
        let written = with_index("cal_v", |rel, meta| {
            // SAFETY: open index.
            unsafe {
                assert_eq!(read(rel, meta.build_id), None, "a new index is not tuned");
                let cal = Calibration { build_id: meta.build_id, tuned_unix: 1, rows: 300, k: 10, queries: 50, from_table: false, points: vec![point] };
                write(rel, &cal);
                assert_eq!(read(rel, meta.build_id + 1), None, "another build's curve is ignored");
                cal
            }
        });
        Spi::run("INSERT INTO cal SELECT ARRAY[i, 1]::real[]::vector FROM generate_series(1, 500) i").unwrap();
        with_index("cal_v", |rel, meta| {
            assert_eq!(meta.inserts, 800);
            // SAFETY: open index.
            let got = unsafe { read(rel, meta.build_id) }.expect("still there after 500 appends");
            assert_eq!(got.points.len(), 1);
            assert_eq!((got.points[0].ef, got.rows, got.build_id), (24, 300, written.build_id));
        });
        Spi::run("REINDEX INDEX cal_v").unwrap();
        // SAFETY: open index.
        with_index("cal_v", |rel, meta| assert_eq!(unsafe { read(rel, meta.build_id) }, None));
    }
}
