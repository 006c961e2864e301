//! Planner costs: cheap for `ORDER BY col <op> $1 LIMIT k`, impossible for anything else.
use pgrx::pg_sys;
use pgrx::prelude::*;

#[pg_guard]
pub unsafe extern "C-unwind" fn amcostestimate(
    _root: *mut pg_sys::PlannerInfo,
    path: *mut pg_sys::IndexPath,
    _loop_count: f64,
    startup: *mut pg_sys::Cost,
    total: *mut pg_sys::Cost,
    selectivity: *mut pg_sys::Selectivity,
    correlation: *mut f64,
    pages: *mut f64,
) {
    // SAFETY: planner passes valid out-pointers and an IndexPath with its IndexOptInfo.
    unsafe {
        *correlation = 0.0;
        *selectivity = 1.0;
        *pages = 1.0;
        if (*path).indexorderbys.is_null() {
            // Without ORDER BY distance this index answers nothing: never choose it.
            *startup = f64::MAX;
            *total = f64::MAX;
            return;
        }
        let info = (*path).indexinfo;
        let tuples = (*info).tuples.max(1.0);
        // The planner holds a lock on the index; the ef is the one the scan will use
        // (vecmap.target_recall's calibrated choice, else vecmap.ef_search).
        let index = pg_sys::index_open((*info).indexoid, pg_sys::NoLock as pg_sys::LOCKMODE);
        let ef = super::calibration::planned_ef(index) as f64;
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        // One graph search: ~ef·2M distance computations over log(n) hops, plus the rerank.
        let work = ef * 32.0 * (tuples.ln() + 1.0) * pg_sys::cpu_operator_cost;
        *pages = ((*info).pages as f64).min(ef * 4.0);
        *startup = work + *pages * pg_sys::random_page_cost * 0.01;
        // Rows past the first beam cost a continued search each.
        *total = *startup + tuples * pg_sys::cpu_index_tuple_cost;
    }
}
