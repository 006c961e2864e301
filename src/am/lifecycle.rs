//! Sidecars follow their index's storage: removed when the relation file goes away, at
//! commit and not before; removed on abort when the transaction (or subtransaction) that
//! built them rolls back; swept when a crash left them behind.
//!
//! - Commit: at PRE_COMMIT we read the relfilenodes Postgres will unlink at commit
//!   (`smgrGetPendingDeletes`: DROP INDEX/TABLE, TRUNCATE, REINDEX's old storage) and unlink
//!   their sidecars at COMMIT.
//! - Abort: sidecars built in this transaction (`created`) are unlinked at ABORT, or at the
//!   abort of the subtransaction that built them.
//! - DROP DATABASE: a ProcessUtility hook removes the database's sidecars after it succeeds.
//! - Orphans (crash during CREATE INDEX, DROP DATABASE from a backend that never loaded us):
//!   `sweep` removes sidecars whose relation file no longer exists and temporary files of
//!   dead processes. It runs when a backend loads the library, at CREATE INDEX and at VACUUM.
//!
//! Commit/abort callbacks only unlink files and ignore errors: an ERROR there would take the
//! backend down.
use super::sidecar::sidecar_dir;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::RefCell;
use std::path::{Path, PathBuf};

thread_local! {
    static CREATED: RefCell<Vec<(PathBuf, pg_sys::SubTransactionId)>> = const { RefCell::new(Vec::new()) };
    static AT_COMMIT: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
}

static mut PREV_UTILITY: pg_sys::ProcessUtility_hook_type = None;

pub fn init() {
    // SAFETY: _PG_init runs once per backend on the main thread; we chain the previous hook.
    unsafe {
        pg_sys::RegisterXactCallback(Some(xact_callback), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(subxact_callback), std::ptr::null_mut());
        PREV_UTILITY = pg_sys::ProcessUtility_hook;
        pg_sys::ProcessUtility_hook = Some(process_utility);
    }
    // Postmaster (shared_preload_libraries) has no data-directory relations to check yet.
    // SAFETY: reading a global set at backend start.
    if unsafe { pg_sys::IsUnderPostmaster } {
        sweep();
    }
}

/// Records a sidecar built by this transaction so a rollback removes it.
pub fn created(path: &Path) {
    // SAFETY: plain accessor of the current subtransaction id.
    let sub = unsafe { pg_sys::GetCurrentSubTransactionId() };
    CREATED.with(|c| c.borrow_mut().push((path.to_path_buf(), sub)));
}

fn remove_sidecar(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(vecmap_engine::sidecar::lock_path(path));
}

fn sidecar_name(spc: u32, db: u32, rel: u32) -> PathBuf {
    sidecar_dir().join(format!("{spc}_{db}_{rel}.vmap"))
}

#[pg_guard]
unsafe extern "C-unwind" fn xact_callback(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    use pg_sys::XactEvent::*;
    match event {
        XACT_EVENT_PRE_COMMIT | XACT_EVENT_PARALLEL_PRE_COMMIT => {
            let mut ptr: *mut pg_sys::RelFileNode = std::ptr::null_mut();
            // SAFETY: returns a palloc'd array of n RelFileNodes (or 0 and null).
            let n = unsafe { pg_sys::smgrGetPendingDeletes(true, &mut ptr) };
            if n > 0 && !ptr.is_null() {
                // SAFETY: as above.
                let nodes = unsafe { std::slice::from_raw_parts(ptr, n as usize) };
                let doomed: Vec<PathBuf> = nodes
                    .iter()
                    .map(|r| sidecar_name(r.spcNode.to_u32(), r.dbNode.to_u32(), r.relNode.to_u32()))
                    .filter(|p| p.exists())
                    .collect();
                AT_COMMIT.with(|c| c.borrow_mut().extend(doomed));
            }
        }
        XACT_EVENT_COMMIT | XACT_EVENT_PARALLEL_COMMIT => {
            for p in AT_COMMIT.with(|c| std::mem::take(&mut *c.borrow_mut())) {
                remove_sidecar(&p);
            }
            CREATED.with(|c| c.borrow_mut().clear());
        }
        XACT_EVENT_ABORT | XACT_EVENT_PARALLEL_ABORT => {
            AT_COMMIT.with(|c| c.borrow_mut().clear());
            for (p, _) in CREATED.with(|c| std::mem::take(&mut *c.borrow_mut())) {
                remove_sidecar(&p);
            }
        }
        _ => {}
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn subxact_callback(event: pg_sys::SubXactEvent::Type, sub: pg_sys::SubTransactionId, parent: pg_sys::SubTransactionId, _arg: *mut std::ffi::c_void) {
    match event {
        pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB => {
            let gone: Vec<PathBuf> = CREATED.with(|c| {
                let mut v = c.borrow_mut();
                let (gone, keep): (Vec<_>, Vec<_>) = v.drain(..).partition(|(_, s)| *s == sub);
                *v = keep;
                gone.into_iter().map(|(p, _)| p).collect()
            });
            for p in gone {
                remove_sidecar(&p);
            }
        }
        pg_sys::SubXactEvent::SUBXACT_EVENT_COMMIT_SUB => {
            CREATED.with(|c| c.borrow_mut().iter_mut().filter(|(_, s)| *s == sub).for_each(|(_, s)| *s = parent));
        }
        _ => {}
    }
}

#[pg_guard]
#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn process_utility(
    pstmt: *mut pg_sys::PlannedStmt,
    query: *const std::ffi::c_char,
    read_only_tree: bool,
    context: pg_sys::ProcessUtilityContext::Type,
    params: pg_sys::ParamListInfo,
    env: *mut pg_sys::QueryEnvironment,
    dest: *mut pg_sys::DestReceiver,
    qc: *mut pg_sys::QueryCompletion,
) {
    // SAFETY: pstmt is a valid utility statement for the duration of the call.
    unsafe {
        let stmt = (*pstmt).utilityStmt;
        let dropped_db = if !stmt.is_null() && (*stmt).type_ == pg_sys::NodeTag::T_DropdbStmt {
            let d = stmt as *mut pg_sys::DropdbStmt;
            Some(pg_sys::get_database_oid((*d).dbname, true).to_u32()).filter(|&o| o != 0)
        } else {
            None
        };
        match PREV_UTILITY {
            // An ERROR inside must unwind our frames, not longjmp over them.
            Some(prev) => pg_sys::ffi::pg_guard_ffi_boundary(|| prev(pstmt, query, read_only_tree, context, params, env, dest, qc)),
            None => pg_sys::standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc),
        }
        if let Some(db) = dropped_db {
            for_each_sidecar_file(|path, _spc, fdb, _rel, _| {
                if fdb == db {
                    let _ = std::fs::remove_file(path);
                }
            });
        }
    }
}

/// Calls `f(path, spc, db, rel, tmp_pid)` for every file in the sidecar directory whose name
/// parses as `<spc>_<db>_<rel>.vmap[.lock|.tmp<pid>]`.
fn for_each_sidecar_file(mut f: impl FnMut(&Path, u32, u32, u32, Option<i32>)) {
    let Ok(dir) = std::fs::read_dir(sidecar_dir()) else { return };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some((stem, rest)) = name.split_once(".vmap") else { continue };
        let parts: Vec<u32> = stem.split('_').filter_map(|s| s.parse().ok()).collect();
        if parts.len() != 3 {
            continue;
        }
        let tmp_pid = rest.strip_prefix(".tmp").and_then(|p| p.parse().ok());
        f(&e.path(), parts[0], parts[1], parts[2], tmp_pid);
    }
}

/// True while `pid` runs; a zombie (exited, not yet reaped) counts as dead.
fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for the process' existence.
    if unsafe { libc::kill(pid, 0) } != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(st) => st.rsplit_once(')').map(|(_, rest)| rest.trim_start().as_bytes().first() != Some(&b'Z')).unwrap_or(true),
        Err(_) => false,
    }
}

/// Removes sidecars whose relation file is gone and temporary files of dead processes.
pub fn sweep() {
    for_each_sidecar_file(|path, spc, db, rel, tmp_pid| {
        if let Some(pid) = tmp_pid {
            if !process_alive(pid) {
                let _ = std::fs::remove_file(path);
            }
            return;
        }
        // SAFETY: GetRelationPath pallocs a path relative to the data directory (our cwd).
        let rel_path = unsafe {
            let p = pg_sys::GetRelationPath(pg_sys::Oid::from(db), pg_sys::Oid::from(spc), pg_sys::Oid::from(rel), -1, pg_sys::ForkNumber::MAIN_FORKNUM);
            let s = std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned();
            pg_sys::pfree(p as *mut std::ffi::c_void);
            s
        };
        if !Path::new(&rel_path).exists() {
            let _ = std::fs::remove_file(path);
        }
    });
}
