//! The `vecmap` index access method, split by phase like pgvector's hnsw*.c files:
//! options, build, insert, scan, vacuum, cost; `pages` holds the durable log and
//! `sidecar` binds it to the engine's memory-mapped file. Tuning and observability (issue #7):
//! `calibration` + `tune` (recall targets), `stats` (index stats, prewarm), `explain`.
pub mod build;
pub mod calibration;
pub mod cost;
pub mod explain;
pub mod input;
pub mod insert;
pub mod lifecycle;
pub mod options;
pub mod pages;
pub mod scan;
pub mod sidecar;
pub mod stats;
pub mod tune;
pub mod vacuum;

use pgrx::pg_sys;
use pgrx::prelude::*;

pg_function_info_v1!(amhandler);

#[pg_guard]
unsafe extern "C-unwind" fn amvalidate(_opclass: pg_sys::Oid) -> bool {
    true
}

/// `vecmap_amhandler(internal) → index_am_handler`
#[export_name = "vecmap_amhandler"]
#[pg_guard]
pub unsafe extern "C-unwind" fn amhandler(_fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let mut am = unsafe { PgBox::<pg_sys::IndexAmRoutine>::alloc_node(pg_sys::NodeTag::T_IndexAmRoutine) };
    am.amstrategies = 0;
    am.amsupport = 1;
    am.amoptsprocnum = 0;
    am.amcanorder = false;
    am.amcanorderbyop = true;
    am.amcanbackward = false;
    am.amcanunique = false;
    am.amcanmulticol = false;
    am.amoptionalkey = true;
    am.amsearcharray = false;
    am.amsearchnulls = false;
    am.amstorage = false;
    am.amclusterable = false;
    am.ampredlocks = false;
    am.amcanparallel = false;
    am.amcaninclude = false;
    am.amusemaintenanceworkmem = false;
    am.amparallelvacuumoptions = pg_sys::VACUUM_OPTION_PARALLEL_BULKDEL as u8;
    am.amkeytype = pg_sys::InvalidOid;
    am.ambuild = Some(build::ambuild);
    am.ambuildempty = Some(build::ambuildempty);
    am.aminsert = Some(insert::aminsert);
    am.ambulkdelete = Some(vacuum::ambulkdelete);
    am.amvacuumcleanup = Some(vacuum::amvacuumcleanup);
    am.amcostestimate = Some(cost::amcostestimate);
    am.amoptions = Some(options::amoptions);
    am.amvalidate = Some(amvalidate);
    am.ambuildphasename = Some(build::ambuildphasename);
    am.ambeginscan = Some(scan::ambeginscan);
    am.amrescan = Some(scan::amrescan);
    am.amgettuple = Some(scan::amgettuple);
    am.amendscan = Some(scan::amendscan);
    pg_sys::Datum::from(am.into_pg())
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn ids(sql: &str) -> Vec<i32> {
        Spi::connect(|c| c.select(sql, None, &[]).unwrap().map(|r| r.get::<i32>(1).unwrap().unwrap()).collect())
    }

    #[pg_test]
    fn index_scan_matches_exact_order_on_small_table() {
        Spi::run("CREATE TABLE pts (id int, v vector(2))").unwrap();
        Spi::run("INSERT INTO pts SELECT i, ARRAY[i % 37, i / 37]::real[]::vector FROM generate_series(0, 999) i").unwrap();
        Spi::run("CREATE INDEX pts_v ON pts USING vecmap (v vector_l2_ops)").unwrap();
        let q = "SELECT id FROM pts ORDER BY v <-> '[10.2,7.1]' LIMIT 5";
        Spi::run("SET enable_seqscan = off").unwrap();
        let got = ids(q);
        Spi::run("SET enable_seqscan = on; SET enable_indexscan = off").unwrap();
        let want = ids(q);
        assert_eq!(got, want);
    }

    #[pg_test]
    fn rows_inserted_after_build_are_found_in_the_same_transaction() {
        Spi::run("CREATE TABLE pts2 (id int, v vector(3))").unwrap();
        Spi::run("CREATE INDEX pts2_v ON pts2 USING vecmap (v vector_l2_ops)").unwrap();
        // In random order: the first 128 rows fit the quantizer of an index built empty, and rows
        // inserted in ascending order would run past its range (README, "How it stores data").
        Spi::run("INSERT INTO pts2 SELECT i, ARRAY[i, (i * 7) % 13, 1]::real[]::vector FROM generate_series(1, 300) i ORDER BY md5(i::text)").unwrap();
        Spi::run("SET enable_seqscan = off").unwrap();
        assert_eq!(ids("SELECT id FROM pts2 ORDER BY v <-> '[150,10,1]' LIMIT 1"), vec![150]);
        assert_eq!(ids("SELECT id FROM pts2 ORDER BY v <-> '[1,1,1]' LIMIT 300").len(), 300);
    }

    #[pg_test(error = "ef_construction must be greater than or equal to 2 * m")]
    fn ef_construction_below_twice_m_is_rejected() {
        Spi::run("CREATE TABLE pts3 (v vector(3))").unwrap();
        Spi::run("CREATE INDEX ON pts3 USING vecmap (v) WITH (m = 16, ef_construction = 31)").unwrap();
    }
}
