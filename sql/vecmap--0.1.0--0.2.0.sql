-- vecmap 0.1.0 → 0.2.0: tuning and observability functions. This file is both the update
-- script (ALTER EXTENSION vecmap UPDATE) and, through src/lib.rs, part of the 0.2.0 install.

-- Tuning and observability (issue #7): recall calibration, index statistics, prewarming.
-- Every function checks that the caller owns the index (like REINDEX) or is superuser.

-- Measures recall@k against exact search over a sweep of ef, stores the Pareto curve in the
-- index (its metapage, WAL-logged) and returns it; `chosen` marks the ef that
-- `SET vecmap.target_recall = <target_recall>` will use. Queries: held-out index rows, or
-- rows of the table `queries`. Progress is reported as NOTICEs; cancellable.
CREATE FUNCTION vecmap_tune(
    index regclass,
    target_recall float8 DEFAULT 0.95,
    k int DEFAULT 10,
    sample_size int DEFAULT 200,
    queries regclass DEFAULT NULL
) RETURNS TABLE (ef int, recall float8, recall_low float8, latency_ms float8, distances float8, chosen boolean)
    AS 'MODULE_PATHNAME', 'vecmap_tune' LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The curve stored by the last vecmap_tune of this index build (no rows: never tuned).
CREATE FUNCTION vecmap_calibration(index regclass)
RETURNS TABLE (ef int, recall float8, recall_low float8, latency_ms float8, distances float8)
    AS 'MODULE_PATHNAME', 'vecmap_calibration' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- One row describing the index. Sidecar columns are NULL when it has no usable sidecar.
CREATE FUNCTION vecmap_index_stats(
    index regclass,
    OUT rows_indexed bigint,              -- live rows the index can return
    OUT rows_deleted bigint,              -- tombstones (deleted nodes, incl. unapplied delete marks)
    OUT dimensions int,
    OUT metric text,                      -- 'l2' | 'ip' | 'cosine'
    OUT m int,
    OUT ef_construction int,
    OUT layers int,                       -- graph layers (max level + 1)
    OUT nodes_per_layer bigint[],         -- [layer 0, layer 1, ...]: nodes present in each layer
    OUT l0_degree_mean float8,            -- out-degree at layer 0, over all nodes
    OUT l0_degree_min int,
    OUT l0_degree_max int,
    OUT entry_point bigint,               -- node id where searches start
    OUT sidecar_path text,                -- relative to the data directory unless superuser
    OUT sidecar_bytes bigint,             -- whole file
    OUT int8_bytes bigint,                -- int8 arena (codes + row metadata), allocated
    OUT f32_bytes bigint,                 -- f32 arena (rerank vectors), allocated
    OUT graph_bytes bigint,               -- neighbour lists (all layers) + node info, allocated
    OUT resident_bytes bigint,            -- bytes of those arenas in the page cache (mincore)
    OUT resident_int8_graph_bytes bigint, -- ... of which int8 arena and graph (what traversal reads)
    OUT resident_f32_bytes bigint,        -- ... of which f32 arena
    OUT log_entries_written bigint,       -- entries in the index's WAL-logged log
    OUT log_entries_applied bigint,       -- entries folded into the sidecar
    OUT quantization_error float8,        -- mean relative error of int8 distances on sampled pairs
    OUT format_version int,               -- sidecar format
    OUT metapage_version int,
    OUT last_rebuilt timestamptz,         -- when the sidecar was last built from scratch
    OUT tuned_at timestamptz,             -- last vecmap_tune (NULL: never tuned)
    OUT tuned_k int,
    OUT tuned_rows bigint
) RETURNS record
    AS 'MODULE_PATHNAME', 'vecmap_index_stats' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- Pulls the int8 arena and graph (and the f32 arena with with_vectors) into the OS page cache;
-- returns the bytes covered.
CREATE FUNCTION vecmap_prewarm(index regclass, with_vectors boolean DEFAULT false) RETURNS bigint
    AS 'MODULE_PATHNAME', 'vecmap_prewarm' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
