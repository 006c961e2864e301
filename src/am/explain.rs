//! EXPLAIN (ANALYZE) of a vecmap index scan shows what the search did:
//!
//! ```text
//!  Limit (actual time=0.31..0.35 rows=10 loops=1)
//!    ->  Index Scan using items_emb on items (actual time=0.30..0.34 rows=10 loops=1)
//!          Order By: (embedding <=> '[…]'::vector)
//!          Vecmap: ef=40 (vecmap.ef_search) visited=61 distances=1712 reranked=40 tail=0 batches=1 continued=no
//! ```
//!
//! PostgreSQL 15 has no per-node EXPLAIN hook for index scans (that arrived in 18), and a
//! CustomScan wrapper would change every plan. What we do instead:
//! 1. `ExplainOneQuery_hook` runs the standard path (plan, then `ExplainOnePlan`, exactly as
//!    explain.c does without a hook — or the previous hook) and marks "EXPLAIN ANALYZE of
//!    this plan in progress".
//! 2. `ExecutorEnd_hook` — which `ExplainOnePlan` reaches after printing, while the scans are
//!    still open — walks that plan's PlanState tree in the order EXPLAIN printed it
//!    (`planstate_tree_walker` visits initPlans, outer, inner, special children, subPlans,
//!    like `ExplainNode`) and copies the counters of every vecmap index scan.
//! 3. Back in the ExplainOneQuery hook, the counters are spliced into this query's output
//!    next to their nodes: a `Vecmap:` line after the node's details in TEXT, and `Vecmap …`
//!    properties after the node's "Index Name" in JSON, YAML and XML.
//!
//! Counters are totals over rescans (`scans=N` when a node ran more than once). `continued`
//! says whether the search went past its first beam of ef (a filter kept asking). Plain
//! EXPLAIN (no ANALYZE) adds nothing. auto_explain prints outside this path and shows none.
use super::calibration::EfSource;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::RefCell;
use std::ffi::{c_void, CStr};
use vecmap_engine::hnsw::search::SearchStats;

/// What one vecmap index scan node did, summed over its rescans.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ScanCounters {
    /// Searches started (1 + rescans that ran).
    pub scans: u64,
    /// ef of the last search, and where it came from.
    pub ef: usize,
    pub source: EfSource,
    /// Layer-0 candidates expanded.
    pub visited: u64,
    /// int8 distance computations (traversal).
    pub distances: u64,
    /// Exact f32 distances of the rerank.
    pub reranked: u64,
    /// Log entries not yet in the graph, scored exactly.
    pub tail: u64,
    /// Beams filled (1 per search unless continued).
    pub batches: u64,
    /// Searches that went past their first beam (iterative continuation).
    pub continued: u64,
}

impl ScanCounters {
    pub fn begin(&mut self, ef: usize, source: EfSource) {
        self.scans += 1;
        self.ef = ef;
        self.source = source;
    }

    pub fn add_search(&mut self, s: &SearchStats) {
        self.visited += s.visited;
        self.distances += s.distances;
        self.reranked += s.reranked;
        self.batches += s.batches;
        if s.batches > 1 {
            self.continued += 1;
        }
    }

    fn text(&self) -> String {
        let mut t = format!(
            "ef={} ({}) visited={} distances={} reranked={} tail={} batches={} continued={}",
            self.ef,
            self.source.describe(),
            self.visited,
            self.distances,
            self.reranked,
            self.tail,
            self.batches,
            if self.continued > 0 { "yes" } else { "no" }
        );
        if self.scans > 1 {
            t.push_str(&format!(" scans={}", self.scans));
        }
        t
    }

    /// (label, value, is_text) for the structured formats.
    fn properties(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("Vecmap Ef", self.ef.to_string(), false),
            ("Vecmap Ef Source", self.source.describe(), true),
            ("Vecmap Visited", self.visited.to_string(), false),
            ("Vecmap Distances", self.distances.to_string(), false),
            ("Vecmap Reranked", self.reranked.to_string(), false),
            ("Vecmap Tail Rows", self.tail.to_string(), false),
            ("Vecmap Batches", self.batches.to_string(), false),
            ("Vecmap Continued", (self.continued > 0).to_string(), false),
            ("Vecmap Scans", self.scans.to_string(), false),
        ]
    }
}

/// A vecmap index scan node as EXPLAIN printed it: its index name (as printed) and its
/// counters (None when the node never ran).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeCounters {
    pub index_name: String,
    pub counters: Option<ScanCounters>,
}

/// One EXPLAIN ANALYZE in progress (they nest when a function runs EXPLAIN).
struct Frame {
    /// The plan we planned (null when a previous hook planned it: then the last instrumented
    /// executor to end is the explained one).
    plan: *mut pg_sys::PlannedStmt,
    nodes: Option<Vec<NodeCounters>>,
}

thread_local! {
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

static mut PREV_EXPLAIN: pg_sys::ExplainOneQuery_hook_type = None;
static mut PREV_EXECUTOR_END: pg_sys::ExecutorEnd_hook_type = None;

pub fn init() {
    // SAFETY: _PG_init runs once per backend on the main thread; previous hooks are chained.
    unsafe {
        PREV_EXPLAIN = pg_sys::ExplainOneQuery_hook;
        pg_sys::ExplainOneQuery_hook = Some(explain_one_query);
        PREV_EXECUTOR_END = pg_sys::ExecutorEnd_hook;
        pg_sys::ExecutorEnd_hook = Some(executor_end);
    }
}

/// Pops the frame however the explain ends (ERROR unwinds through here as a panic).
struct PopFrame;
impl Drop for PopFrame {
    fn drop(&mut self) {
        FRAMES.with(|f| f.borrow_mut().pop());
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn explain_one_query(
    query: *mut pg_sys::Query,
    cursor_options: i32,
    into: *mut pg_sys::IntoClause,
    es: *mut pg_sys::ExplainState,
    query_string: *const std::ffi::c_char,
    params: pg_sys::ParamListInfo,
    query_env: *mut pg_sys::QueryEnvironment,
) {
    // SAFETY: the arguments are explain.c's, passed on unchanged; es->str is a live StringInfo.
    unsafe {
        let analyze = (*es).analyze;
        let start = (*(*es).str_).len as usize;
        let _pop = if analyze {
            FRAMES.with(|f| f.borrow_mut().push(Frame { plan: std::ptr::null_mut(), nodes: None }));
            Some(PopFrame)
        } else {
            None
        };
        if let Some(prev) = PREV_EXPLAIN {
            // A raw C call: guard it so an ERROR unwinds through our frames (and pops the frame).
            pg_sys::ffi::pg_guard_ffi_boundary(|| prev(query, cursor_options, into, es, query_string, params, query_env));
        } else {
            standard_explain_one_query(query, cursor_options, into, es, query_string, params, query_env, analyze);
        }
        if !analyze {
            return;
        }
        let nodes = FRAMES.with(|f| f.borrow_mut().last_mut().and_then(|fr| fr.nodes.take()));
        let Some(nodes) = nodes.filter(|n| n.iter().any(|n| n.counters.is_some())) else {
            return;
        };
        let s = (*es).str_;
        let bytes = std::slice::from_raw_parts((*s).data as *const u8, (*s).len as usize);
        // Output in a non-UTF-8 server encoding is left as it is rather than re-encoded.
        let Ok(ours) = std::str::from_utf8(&bytes[start..]) else {
            return;
        };
        let annotated = match (*es).format {
            pg_sys::ExplainFormat::EXPLAIN_FORMAT_TEXT => annotate_text(ours, &nodes),
            f => annotate_structured(ours, &nodes, f),
        };
        (*s).len = start as i32;
        *(*s).data.add(start) = 0;
        pg_sys::appendBinaryStringInfo(s, annotated.as_ptr() as *const std::ffi::c_char, annotated.len() as i32);
    }
}

/// explain.c's ExplainOneQuery for a planned statement when no hook is installed (PG 15).
#[allow(clippy::too_many_arguments)]
unsafe fn standard_explain_one_query(
    query: *mut pg_sys::Query,
    cursor_options: i32,
    into: *mut pg_sys::IntoClause,
    es: *mut pg_sys::ExplainState,
    query_string: *const std::ffi::c_char,
    params: pg_sys::ParamListInfo,
    query_env: *mut pg_sys::QueryEnvironment,
    analyze: bool,
) {
    // SAFETY: same calls, in the same order, as explain.c.
    unsafe {
        let buffers = (*es).buffers;
        let buf_start = pg_sys::pgBufferUsage;
        let t0 = std::time::Instant::now();
        let plan = pg_sys::pg_plan_query(query, query_string, cursor_options, params);
        let d = t0.elapsed();
        let planduration = pg_sys::instr_time { tv_sec: d.as_secs() as _, tv_nsec: d.subsec_nanos() as _ };
        let mut bufusage = pg_sys::BufferUsage::default();
        if buffers {
            pg_sys::BufferUsageAccumDiff(&mut bufusage, &raw const pg_sys::pgBufferUsage, &buf_start);
        }
        if analyze {
            FRAMES.with(|f| {
                if let Some(fr) = f.borrow_mut().last_mut() {
                    fr.plan = plan;
                }
            });
        }
        pg_sys::ExplainOnePlan(plan, into, es, query_string, params, query_env, &planduration, if buffers { &bufusage } else { std::ptr::null() });
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn executor_end(qd: *mut pg_sys::QueryDesc) {
    // SAFETY: the executor passes a live QueryDesc whose plan state still exists.
    unsafe {
        let wanted = FRAMES.with(|f| {
            f.borrow().last().is_some_and(|fr| if fr.plan.is_null() { (*qd).instrument_options != 0 } else { fr.plan == (*qd).plannedstmt })
        });
        if wanted && !(*qd).planstate.is_null() {
            let mut nodes = Vec::new();
            walk(&mut nodes, (*qd).planstate);
            FRAMES.with(|f| {
                if let Some(fr) = f.borrow_mut().last_mut() {
                    fr.nodes = Some(nodes);
                }
            });
        }
        match PREV_EXECUTOR_END {
            Some(prev) => pg_sys::ffi::pg_guard_ffi_boundary(|| prev(qd)),
            None => pg_sys::standard_ExecutorEnd(qd),
        }
    }
}

unsafe extern "C-unwind" {
    /// nodeFuncs.c (not in pgrx's bindings: its walker is an old-style `bool (*)()`). Called
    /// only through `pg_guard_ffi_boundary`, which turns an ERROR into a Rust panic.
    fn planstate_tree_walker(planstate: *mut pg_sys::PlanState, walker: Option<unsafe extern "C-unwind" fn(*mut pg_sys::PlanState, *mut c_void) -> bool>, context: *mut c_void) -> bool;
}

/// Pre-order walk: a node, then its children in EXPLAIN's order.
unsafe fn walk(out: &mut Vec<NodeCounters>, ps: *mut pg_sys::PlanState) {
    // SAFETY: a live PlanState tree; the callback receives `out` back as its context.
    unsafe {
        visit(ps, out as *mut Vec<NodeCounters> as *mut c_void);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn visit(ps: *mut pg_sys::PlanState, ctx: *mut c_void) -> bool {
    // SAFETY: ctx is the Vec passed by `walk`; ps is a live plan-state node.
    unsafe {
        if ps.is_null() {
            return false;
        }
        let out = &mut *(ctx as *mut Vec<NodeCounters>);
        if (*ps).type_ == pg_sys::NodeTag::T_IndexScanState {
            let iss = ps as *mut pg_sys::IndexScanState;
            let rel = (*iss).iss_RelationDesc;
            if !rel.is_null() && is_vecmap(rel) {
                let scan = (*iss).iss_ScanDesc;
                let counters = if scan.is_null() { None } else { super::scan::counters(scan).filter(|c| c.scans > 0) };
                out.push(NodeCounters { index_name: printed_index_name((*rel).rd_id), counters });
            }
        }
        pg_sys::ffi::pg_guard_ffi_boundary(|| planstate_tree_walker(ps, Some(visit), ctx))
    }
}

unsafe fn is_vecmap(rel: pg_sys::Relation) -> bool {
    // SAFETY: an open relation; get_am_oid is a syscache lookup (missing_ok).
    unsafe { (*(*rel).rd_rel).relam == pg_sys::get_am_oid(c"vecmap".as_ptr(), true) }
}

/// The index name as EXPLAIN prints it (explain.c's explain_get_index_name).
unsafe fn printed_index_name(oid: pg_sys::Oid) -> String {
    // SAFETY: catalog lookups inside a transaction; results are NUL-terminated.
    unsafe {
        let p = match pg_sys::explain_get_index_name_hook {
            Some(h) => h(oid),
            None => std::ptr::null(),
        };
        let p = if p.is_null() {
            let name = pg_sys::get_rel_name(oid);
            if name.is_null() {
                return String::new();
            }
            pg_sys::quote_identifier(name)
        } else {
            p
        };
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// TEXT: after each vecmap node's header line ("Index Scan using <name> on …") and its
/// detail lines, a `Vecmap: …` line at the detail indentation.
pub fn annotate_text(out: &str, nodes: &[NodeCounters]) -> String {
    let mut lines: Vec<String> = out.split_inclusive('\n').map(str::to_string).collect();
    let mut pos = 0;
    for n in nodes {
        let needle = format!("Index Scan using {} on ", n.index_name);
        let Some(i) = (pos..lines.len()).find(|&i| lines[i].contains(&needle)) else {
            break;
        };
        pos = i + 1;
        let Some(c) = n.counters else {
            continue;
        };
        let head = &lines[i];
        let lead = indent_of(head);
        let detail = if head[lead..].starts_with("->") { lead + 6 } else { lead + 2 };
        let mut j = i + 1;
        while j < lines.len() {
            let l = &lines[j];
            let t = l.trim_start_matches(' ');
            let is_detail = indent_of(l) == detail && !t.is_empty() && !t.starts_with("->") && !["InitPlan ", "SubPlan ", "CTE "].iter().any(|p| t.starts_with(p));
            if !is_detail {
                break;
            }
            j += 1;
        }
        lines.insert(j, format!("{}Vecmap: {}\n", " ".repeat(detail), c.text()));
        pos = j + 1;
    }
    lines.concat()
}

fn json_string(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '\u{8}' => o.push_str("\\b"),
            '\u{c}' => o.push_str("\\f"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\r', "&#x0d;")
}

/// JSON / YAML / XML: the node's `Vecmap …` properties right after its "Index Name".
fn annotate_structured(out: &str, nodes: &[NodeCounters], format: pg_sys::ExplainFormat::Type) -> String {
    use pg_sys::ExplainFormat::*;
    let mut lines: Vec<String> = out.split_inclusive('\n').map(str::to_string).collect();
    let mut pos = 0;
    for n in nodes {
        let needle = match format {
            EXPLAIN_FORMAT_JSON => format!("\"Index Name\": {}", json_string(&n.index_name)),
            EXPLAIN_FORMAT_YAML => format!("Index Name: {}", json_string(&n.index_name)),
            _ => format!("<Index-Name>{}</Index-Name>", xml_escape(&n.index_name)),
        };
        let Some(i) = (pos..lines.len()).find(|&i| lines[i].trim_start().starts_with(&needle)) else {
            break;
        };
        pos = i + 1;
        let Some(c) = n.counters else {
            continue;
        };
        let pad = " ".repeat(indent_of(&lines[i]));
        let props: Vec<String> = c
            .properties()
            .into_iter()
            .map(|(label, value, is_text)| match format {
                EXPLAIN_FORMAT_JSON => format!("{pad}\"{label}\": {},\n", if is_text { json_string(&value) } else { value }),
                EXPLAIN_FORMAT_YAML => format!("{pad}{label}: {}\n", if is_text { json_string(&value) } else { value }),
                _ => {
                    let tag = label.replace(' ', "-");
                    format!("{pad}<{tag}>{}</{tag}>\n", xml_escape(&value))
                }
            })
            .collect();
        let k = props.len();
        for (o, p) in props.into_iter().enumerate() {
            lines.insert(i + 1 + o, p);
        }
        pos = i + 1 + k;
    }
    lines.concat()
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use super::*;

    fn node(name: &str, ef: usize) -> NodeCounters {
        let mut c = ScanCounters::default();
        c.begin(ef, EfSource::EfSearch);
        c.visited = 5;
        NodeCounters { index_name: name.into(), counters: Some(c) }
    }

    #[pg_test]
    fn text_lines_go_after_each_nodes_details_in_order() {
        let plan = "Limit  (actual rows=5 loops=1)\n\
                    \x20 InitPlan 1 (returns $0)\n\
                    \x20   ->  Index Scan using a on t  (actual rows=1 loops=1)\n\
                    \x20         Order By: (v <-> '[1]'::vector)\n\
                    \x20 ->  Index Scan using a on t t2  (actual rows=5 loops=1)\n\
                    \x20       Order By: (v <-> $0)\n\
                    \x20       Filter: (id > 3)\n\
                    Planning Time: 0.1 ms\n";
        let got = annotate_text(plan, &[node("a", 10), node("a", 20)]);
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines[4], "          Vecmap: ef=10 (vecmap.ef_search) visited=5 distances=0 reranked=0 tail=0 batches=0 continued=no");
        assert_eq!(lines[8], "        Vecmap: ef=20 (vecmap.ef_search) visited=5 distances=0 reranked=0 tail=0 batches=0 continued=no");
        assert_eq!(lines[9], "Planning Time: 0.1 ms");
        let top = annotate_text("Index Scan using \"My Idx\" on t\n  Order By: x\n", &[node("\"My Idx\"", 7)]);
        assert!(top.ends_with("  Order By: x\n  Vecmap: ef=7 (vecmap.ef_search) visited=5 distances=0 reranked=0 tail=0 batches=0 continued=no\n"), "{top}");
    }

    #[pg_test]
    fn json_properties_follow_the_index_name() {
        let plan = "[\n  {\n    \"Plan\": {\n      \"Node Type\": \"Index Scan\",\n      \"Index Name\": \"a\",\n      \"Relation Name\": \"t\"\n    }\n  }\n]";
        let got = annotate_structured(plan, &[node("a", 12)], pg_sys::ExplainFormat::EXPLAIN_FORMAT_JSON);
        assert!(got.contains("      \"Index Name\": \"a\",\n      \"Vecmap Ef\": 12,\n      \"Vecmap Ef Source\": \"vecmap.ef_search\",\n"), "{got}");
        assert!(got.contains("\"Vecmap Continued\": false,\n"));
        let none = annotate_structured(plan, &[NodeCounters { index_name: "a".into(), counters: None }], pg_sys::ExplainFormat::EXPLAIN_FORMAT_JSON);
        assert_eq!(none, plan);
    }
}
