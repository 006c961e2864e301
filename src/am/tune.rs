//! `vecmap_tune(index, target_recall, k, sample_size, queries)`: measures recall@k against
//! exact search for a sweep of ef, stores the Pareto curve in the index (`calibration.rs`)
//! and returns it. `vecmap_calibration(index)` returns the stored curve.
//!
//! Steps: fold the log tail into the graph (so the graph holds every row); take held-out
//! queries (sampled index rows the search is blind to, or rows of a query table); compute
//! their exact top-k by brute force on all cores; run each query as a scan would at every
//! ef of the sweep (k upward, stopping once the target is met with 95% confidence and recall
//! reached 0.999 or stopped improving); keep the Pareto points. Progress goes to the client as NOTICEs (one per
//! step); a cancel stops it between queries and stores nothing.
use super::calibration as calib;
use super::pages;
use super::sidecar::{self, NoProgress};
use super::stats::open_owned_index;
use crate::fmgr::{arg, arg_is_null};
use crate::types::vector::float8_datum;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::time::Instant;
use vecmap_engine::hnsw::Scratch;
use vecmap_engine::tune::{self as et, Calibration, CurvePoint, Measured, Query};

pg_function_info_v1!(tune, calibration);

/// Queries per pass of the exact ground truth (one pass over the f32 arena serves them all;
/// interrupts are checked between passes).
const TRUTH_BATCH: usize = 8;
/// Most queries one tune measures.
const MAX_SAMPLE: i32 = 20_000;
/// Seconds between progress NOTICEs while the exact answers are computed.
const PROGRESS_EVERY: f64 = 5.0;

fn invalid(msg: String) -> ! {
    ereport!(ERROR, PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, msg);
}

/// Query vectors from the first column of the index's vector type in `table`, up to `n`
/// random non-NULL rows (SELECT privilege on the table is checked as usual).
unsafe fn table_queries(index: pg_sys::Relation, table: pg_sys::Oid, n: usize, dims: usize, metric: vecmap_engine::Metric) -> Vec<Query> {
    // SAFETY: an index has at least one attribute.
    let typ = unsafe { (*(*(*index).rd_att).attrs.as_ptr()).atttypid };
    let col = Spi::get_one::<String>(&format!(
        "SELECT quote_ident(attname) FROM pg_catalog.pg_attribute WHERE attrelid = {} AND atttypid = {} AND attnum > 0 AND NOT attisdropped ORDER BY attnum LIMIT 1",
        table.to_u32(),
        typ.to_u32()
    ));
    let Ok(Some(col)) = col else {
        ereport!(ERROR, PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN, format!("query table {} has no column of the index's vector type", table.to_u32()));
    };
    let tbl = Spi::get_one::<String>(&format!("SELECT {}::pg_catalog.regclass::text", table.to_u32())).ok().flatten().unwrap_or_default();
    // sparsevec and bit have no cast to real[]: read their text forms and convert here.
    // SAFETY: open index relation.
    let input = unsafe { super::input::input_type(index) };
    let as_text = matches!(input, super::input::InputType::Sparsevec | super::input::InputType::Bit);
    let expr = if as_text { format!("({col})::text") } else { format!("({col})::real[]") };
    let sql = format!("SELECT {expr} FROM {tbl} WHERE {col} IS NOT NULL ORDER BY pg_catalog.random() LIMIT {n}");
    let rows: Vec<Vec<f32>> = Spi::connect(|c| {
        c.select(&sql, None, &[]).map(|t| {
            t.filter_map(|r| if as_text { r.get::<String>(1).ok().flatten().map(|s| text_values(input, &s, dims)) } else { r.get::<Vec<f32>>(1).ok().flatten() })
                .collect::<Vec<_>>()
        })
    })
    .unwrap_or_else(|e| error!("vecmap_tune: reading queries: {e}"));
    let mut out = Vec::with_capacity(rows.len());
    let mut buf = Vec::new();
    for v in rows {
        if v.len() != dims {
            super::build::dimension_error(dims as u32, v.len());
        }
        if metric.prepare(&v, &mut buf) {
            out.push(Query { vector: buf.clone(), exclude: None });
        }
    }
    out
}

/// The f32 values of a `sparsevec` (densified) or `bit` (one 0/1 per bit) given in text form,
/// as `super::input` stores them.
/// ERROR when the length differs from the index's `dims` (checked before densifying).
fn text_values(input: super::input::InputType, text: &str, dims: usize) -> Vec<f32> {
    if input == super::input::InputType::Bit {
        return text.bytes().map(|b| (b == b'1') as u8 as f32).collect();
    }
    let s = crate::types::wire::check(vecmap_engine::textio::sparsevec::parse(text.as_bytes(), -1));
    if s.dim as usize != dims {
        super::build::dimension_error(dims as u32, s.dim as usize);
    }
    let mut dense = vec![0.0f32; s.dim.max(0) as usize];
    for (i, v) in s.indices.iter().zip(&s.values) {
        dense[*i as usize] = *v;
    }
    dense
}

/// A fresh sampling seed per call (clock nanoseconds and pid).
fn seed() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    t ^ ((std::process::id() as u64) << 40)
}

fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Appends one result row per point to the function's materialized result.
unsafe fn emit(fcinfo: pg_sys::FunctionCallInfo, points: &[CurvePoint], chosen: Option<u32>, with_chosen: bool) {
    // SAFETY: InitMaterializedSRF set up rsinfo with a tuplestore and a tuple descriptor.
    unsafe {
        let rsinfo = (*fcinfo).resultinfo as *mut pg_sys::ReturnSetInfo;
        for p in points {
            let mut values = vec![
                pg_sys::Datum::from(p.ef as i32),
                float8_datum(p.recall),
                float8_datum(p.recall_low),
                float8_datum((p.latency_us * 100.0).round() / 100_000.0),
                float8_datum(p.distances),
            ];
            if with_chosen {
                values.push(pg_sys::Datum::from(chosen == Some(p.ef)));
            }
            let mut nulls = vec![false; values.len()];
            pg_sys::tuplestore_putvalues((*rsinfo).setResult, (*rsinfo).setDesc, values.as_mut_ptr(), nulls.as_mut_ptr());
        }
    }
}

/// `vecmap_tune(index regclass, target_recall float8 = 0.95, k int = 10, sample_size int = 200,
/// queries regclass = NULL) → SETOF (ef int, recall float8, recall_low float8, latency_ms
/// float8, distances float8, chosen bool)`.
///
/// Measures and stores the index's recall curve; returns its Pareto points (ascending ef).
/// `recall` is mean recall@k over the queries (ties at the k-th distance count as hits),
/// `recall_low` its one-sided 95% lower bound (what `vecmap.target_recall` compares with),
/// `latency_ms` the median time of one search inside the backend, `distances` the mean int8
/// distance computations per query, and `chosen` marks the ef `target_recall` selects.
/// Queries: `sample_size` held-out index rows, or up to `sample_size` random rows of the table
/// `queries` (its first column of the index's vector type). ERRORs: not the owner, a read-only
/// transaction or standby, an empty index, arguments out of range (0 < target_recall ≤ 1,
/// 1 ≤ k ≤ 1000, 10 ≤ sample_size ≤ 20000). Takes ShareUpdateExclusiveLock on the index
/// (one tune at a time; inserts and scans go on). Cancellable; NOTICEs report progress.
#[export_name = "vecmap_tune"]
#[pg_guard]
pub unsafe extern "C-unwind" fn tune(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: (regclass, float8, int4, int4, regclass); NULLs checked before use.
    unsafe {
        for (i, name) in [(0, "index"), (1, "target_recall"), (2, "k"), (3, "sample_size")] {
            if arg_is_null(fcinfo, i) {
                invalid(format!("vecmap_tune: {name} must not be NULL"));
            }
        }
        let oid = pg_sys::Oid::from(arg(fcinfo, 0).value() as u32);
        let target = f64::from_bits(arg(fcinfo, 1).value() as u64);
        let k = arg(fcinfo, 2).value() as i32;
        let sample = arg(fcinfo, 3).value() as i32;
        let table = if arg_is_null(fcinfo, 4) { None } else { Some(pg_sys::Oid::from(arg(fcinfo, 4).value() as u32)) };
        if !(target > 0.0 && target <= 1.0) {
            invalid(format!("target_recall must be in (0, 1], not {target}"));
        }
        if !(1..=1000).contains(&k) {
            invalid(format!("k must be between 1 and 1000, not {k}"));
        }
        if !(10..=MAX_SAMPLE).contains(&sample) {
            invalid(format!("sample_size must be between 10 and {MAX_SAMPLE}, not {sample}"));
        }
        let (k, sample) = (k as usize, sample as usize);
        pg_sys::PreventCommandIfReadOnly(c"vecmap_tune()".as_ptr());
        let index = open_owned_index(oid, pg_sys::ShareUpdateExclusiveLock);
        let name = pages::relname(index);
        let meta = pages::read_meta(index);
        if meta.dims == 0 || meta.inserts == 0 {
            ereport!(ERROR, PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, format!("vecmap index \"{name}\" is empty; there is nothing to tune"));
        }
        // Query-table rows are read before the sidecar is borrowed: SPI may scan this index.
        let metric = vecmap_engine::Metric::from_u32(meta.metric).unwrap_or(vecmap_engine::Metric::L2);
        let table_qs = table.map(|t| table_queries(index, t, sample, meta.dims as usize, metric));
        // Fold the whole log into the graph first, so the graph holds every row.
        let Some(handle) = sidecar::catch_up(index, &meta, true, &mut NoProgress) else {
            ereport!(ERROR, PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, format!("vecmap index \"{name}\" has no graph to tune"));
        };
        let sc = handle.borrow();
        let st = *sc.state();
        let live = st.node_count - st.deleted;
        let queries = match table_qs {
            Some(q) => q,
            None => et::sample_node_queries(&sc, sample, meta.build_id ^ seed()),
        };
        if queries.is_empty() || live <= k as u64 {
            ereport!(ERROR, PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, format!("vecmap index \"{name}\" has too few rows ({live}) or queries ({}) to measure recall@{k}", queries.len()));
        }

        // Exact answers, on all cores, a batch of queries per pass over the f32 arena.
        let t0 = Instant::now();
        let mut truths = Vec::with_capacity(queries.len());
        let mut last = Instant::now();
        for chunk in queries.chunks(TRUTH_BATCH) {
            check_for_interrupts!();
            truths.extend(et::ground_truth(&sc, chunk, k, Some(sidecar::pool())));
            if last.elapsed().as_secs_f64() >= PROGRESS_EVERY {
                last = Instant::now();
                pgrx::notice!("vecmap_tune: exact top-{k}: {} of {} queries", truths.len(), queries.len());
            }
        }
        pgrx::notice!("vecmap_tune: exact top-{k} of {} queries over {live} rows in {:.1} s", queries.len(), t0.elapsed().as_secs_f64());

        let mut scratch = Scratch::default();
        let sweep = et::sweep_for(k);
        // Warm-up (untimed): the first timed ef should not pay for cold caches alone.
        for (i, (q, t)) in queries.iter().zip(&truths).enumerate() {
            if i % 16 == 0 {
                check_for_interrupts!();
            }
            et::search_once(&sc, &mut scratch, q, k, sweep[0] as usize, t);
        }
        let mut points = Vec::new();
        for (step, &ef) in sweep.iter().enumerate() {
            let mut runs: Vec<Measured> = Vec::with_capacity(queries.len());
            for (i, (q, t)) in queries.iter().zip(&truths).enumerate() {
                if i % 16 == 0 {
                    check_for_interrupts!();
                }
                runs.push(et::search_once(&sc, &mut scratch, q, k, ef as usize, t));
            }
            let p = et::summarize(ef, &truths, &runs);
            points.push(p);
            pgrx::notice!(
                "vecmap_tune: ef {ef} ({}/{}): recall@{k} {:.4} (95% lower bound {:.4}), {:.3} ms",
                step + 1,
                sweep.len(),
                p.recall,
                p.recall_low,
                p.latency_us / 1000.0
            );
            if et::sweep_done(&points, target) {
                break;
            }
        }
        let cal = Calibration {
            build_id: meta.build_id,
            tuned_unix: now_unix(),
            rows: live,
            k: k as u32,
            queries: queries.len() as u32,
            from_table: table.is_some(),
            points: et::pareto(&points),
        };
        drop(sc);
        calib::write(index, &cal);
        let choice = cal.choose(target);
        if let Some(c) = choice.filter(|c| !c.meets) {
            pgrx::notice!("vecmap index \"{name}\" does not reach recall@{k} {target} at any ef up to {}; its best is ef = {c}. Rebuild with larger m or ef_construction.", sweep[sweep.len() - 1], c = c.ef);
        }
        pg_sys::InitMaterializedSRF(fcinfo, 0);
        emit(fcinfo, &cal.points, choice.map(|c| c.ef), true);
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        pg_sys::Datum::from(0usize)
    }
}

/// `vecmap_calibration(index regclass) → SETOF (ef int, recall float8, recall_low float8,
/// latency_ms float8, distances float8)`: the curve stored by the last `vecmap_tune` of this
/// index build (no rows when it was never tuned). ERRORs unless the caller owns the index.
#[export_name = "vecmap_calibration"]
#[pg_guard]
pub unsafe extern "C-unwind" fn calibration(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (regclass).
    unsafe {
        let oid = pg_sys::Oid::from(arg(fcinfo, 0).value() as u32);
        let index = open_owned_index(oid, pg_sys::AccessShareLock);
        let meta = pages::read_meta(index);
        let cal = calib::read(index, meta.build_id);
        pg_sys::InitMaterializedSRF(fcinfo, 0);
        if let Some(c) = cal {
            emit(fcinfo, &c.points, None, false);
        }
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        pg_sys::Datum::from(0usize)
    }
}
