"""Reports for `vecmap_tools.bench`: QPS at equal recall, the Markdown tables, the recall-vs-QPS plot."""
import numpy as np

RECALL_TARGETS = (0.90, 0.95)


def qps_at(points, recall):
    """(QPS at `recall` on one curve, log-linear between the bracketing ef points; is_bound).

    Below the curve's lowest recall, its lowest-ef point's QPS is returned as a lower bound
    (a smaller ef would be faster); above its highest recall, (None, False)."""
    pts = sorted((p["recall"], p["qps"]) for p in points)
    r = np.array([p[0] for p in pts])
    if not len(r) or recall > r[-1]:
        return None, False
    if recall < r[0]:
        return pts[0][1], True
    return float(np.exp(np.interp(recall, r, np.log([p[1] for p in pts])))), False


def curves(res):
    """{(system, clients): [points]} of the ef sweep."""
    out = {}
    for name, s in res["systems"].items():
        for p in s["points"]:
            out.setdefault((name, p["clients"]), []).append(p)
    return out


def headline(res):
    """vecmap/pgvector QPS ratio at equal recall, per client count and recall target."""
    c, rows = curves(res), []
    for (name, clients), pts in sorted(c.items()):
        if name != "vecmap" or ("pgvector", clients) not in c:
            continue
        for r in RECALL_TARGETS:
            (a, a_bound), (b, b_bound) = qps_at(pts, r), qps_at(c[("pgvector", clients)], r)
            rows.append(dict(recall=r, clients=clients, vecmap_qps=a, pgvector_qps=b,
                             ratio=a / b if a and b else None, vecmap_lower_bound=a_bound,
                             pgvector_lower_bound=b_bound))
    return rows


def _f(x, fmt="{:,.0f}"):
    return "—" if x is None else fmt.format(x)


def _mb(b):
    return _f(None if b is None else b / 2**20, "{:,.1f} MB")


def markdown(res):
    """The result tables as Markdown."""
    m, d = res["machine"], res["dataset"]
    clients = res["config"]["clients"]
    out = [f"### {d['name']}: {d['rows']:,} rows × {d['dims']} ({d.get('model') or ('synthetic' if d.get('synthetic') else 'vectors')}, "
           f"source {d.get('source')}), {d['queries']:,} queries, cosine, k = 10",
           "",
           f"{m['cpu']}, {m['nproc']} cores, {m['mem_gb']:.0f} GB RAM; {res['postgres']['version']}; "
           f"vecmap {res['postgres']['vecmap']} (vecmap.so sha256 {res['postgres']['vecmap_so']['sha256']}), "
           f"pgvector {res['postgres'].get('pgvector') or 'not measured'}; commit {m['commit']}; {res['date']}",
           "",
           "| system | build | cores busy | build memory | index relation | sidecar | total on disk | first query | "
           "resident after sweep | in shared_buffers |",
           "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for name, s in res["systems"].items():
        b, z, h = s["build"], s["size"], s["hot_set"]
        built = (f"{b['seconds']:.1f} s | {b['cores_busy']:.2f}" if b else "— (--reuse-db) | —")
        out.append(f"| {name} | {built} | {_mb((b or {}).get('peak_anon_shmem_bytes'))} | {_mb(z['relation'])} | "
                   f"{_mb(z.get('sidecar'))} | {_mb(z['total'])} | {s['first_query_ms']:.1f} ms | {_mb(h['page_cache'])} of {_mb(h['file_bytes'])} | "
                   f"{_mb(h.get('shared_buffers'))} |")
    for name, s in res["systems"].items():
        a = s["hot_set"].get("arenas")
        if a:
            out += ["", f"{name} sidecar arenas after the sweep (vecmap_index_stats): int8 codes + graph "
                    f"{_mb(a['int8_bytes'] + a['graph_bytes'])}, {_mb(a['resident_int8_graph_bytes'])} resident; "
                    f"f32 rerank vectors {_mb(a['f32_bytes'])}, {_mb(a['resident_f32_bytes'])} resident."]
    cold = "after a restart with the index files evicted" if next(iter(res["systems"].values()))["cold_start"] \
        else "without a restart"
    out += ["", f"Build: CREATE INDEX wall time; cores busy = average busy cores over the build (/proc/stat); "
            "build memory = peak RssAnon + RssShmem of the backend and its parallel workers, sampled every 0.1 s "
            "(page cache, e.g. the mapped sidecar, excluded). "
            f"First query: a new connection's first query {cold}. Resident: the index files' pages in the page "
            "cache (fincore) after the whole ef sweep; in shared_buffers: pg_buffercache."]
    head = " | ".join(f"QPS {c}c | p50 | p95 | p99" for c in clients)
    out += ["", f"| system | ef | recall@10 | {head} |", "|---|--:|--:|" + "--:|" * 4 * len(clients)]
    for name, s in res["systems"].items():
        for ef in sorted({p["ef"] for p in s["points"]}):
            pts = {p["clients"]: p for p in s["points"] if p["ef"] == ef}
            cells = " | ".join(f"{_f(pts[c]['qps'])}{'' if pts[c]['steady'] else '*'} | {pts[c]['p50_ms']:.2f} | "
                               f"{pts[c]['p95_ms']:.2f} | {pts[c]['p99_ms']:.2f}" for c in clients)
            out.append(f"| {name} | {ef} | {pts[clients[0]]['recall']:.3f} | {cells} |")
    s1 = {p["clients"]: p for p in res["select1"]}
    out.append(f"| `SELECT 1` | | | " + " | ".join(
        f"{_f(s1[c]['qps'])} | {s1[c]['p50_ms']:.2f} | {s1[c]['p95_ms']:.2f} | {s1[c]['p99_ms']:.2f}" for c in clients) + " |")
    out += ["", "Latencies in ms, client-side, prepared statements with binary parameters; "
            "`*` = stopped by the time cap before the CV of per-second QPS fell below 2%."]
    if res["headline"]:
        out += ["", "| recall@10 | clients | vecmap QPS | pgvector QPS | vecmap / pgvector |", "|--:|--:|--:|--:|--:|"]
        for h in res["headline"]:
            a, b = ("≥ " if h["vecmap_lower_bound"] else ""), ("≥ " if h["pgvector_lower_bound"] else "")
            ratio = ("≥ " if a and not b else "≤ " if b and not a else "~ " if a else "") + _f(h["ratio"], "{:.2f}×")
            out.append(f"| {h['recall']:.2f} | {h['clients']} | {a}{_f(h['vecmap_qps'])} | {b}{_f(h['pgvector_qps'])} | "
                       f"{ratio} |")
        out += ["", "QPS interpolated (log-linear) between the ef points that bracket the recall; `≥` = the "
                "curve's lowest ef already exceeds that recall, so its QPS there is a lower bound."]
    if all(i is None for s in res["systems"].values() for i in s["inserts"].values()):
        return "\n".join(out) + "\n"  # --no-inserts
    out += ["", "| system | vector index | COPY | INSERT, autocommit | INSERT, one transaction | "
            "next query after | DELETE + VACUUM |", "|---|---|--:|--:|--:|--:|--:|"]
    for name, s in res["systems"].items():
        for key, label in (("none", "none (primary key only)"), ("indexed", "yes")):
            i = s["inserts"].get(key)
            if i is None:  # --reuse-db: the index existed, no insert without it
                continue
            after = f"{i['first_query_ms']:.1f} ms, then {i['second_query_ms']:.1f} ms" if "first_query_ms" in i else ""
            out.append(f"| {name} | {label} | {_f(i['copy_rows_s'])} | {_f(i['insert_rows_s'])} | "
                       f"{_f(i['insert_1txn_rows_s'])} | {after} | {i['vacuum_s']:.2f} s |")
    n = next(i["rows"] for s in res["systems"].values() for i in s["inserts"].values() if i)
    out += ["", f"Rows/s, one client, {n:,} held-out rows per column: one binary COPY; single-row prepared "
            "INSERTs each committed (waits for its WAL flush); single-row INSERTs in one transaction. "
            "Then the latency of the next two queries (ef_search 40), and DELETE of the inserted rows + VACUUM."]
    return "\n".join(out) + "\n"


def plot(res, path):
    """Recall@10 vs QPS (log), one panel per client count, one curve per system."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clients = res["config"]["clients"]
    c = curves(res)
    fig, axes = plt.subplots(1, len(clients), figsize=(5 * len(clients), 3.8), squeeze=False)
    for ax, n in zip(axes[0], clients):
        for name in res["systems"]:
            pts = sorted(c[(name, n)], key=lambda p: p["ef"])
            ax.plot([p["recall"] for p in pts], [p["qps"] for p in pts], marker="o", ms=4, label=name)
            for p in pts:
                ax.annotate(str(p["ef"]), (p["recall"], p["qps"]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
        ceiling = next(p["qps"] for p in res["select1"] if p["clients"] == n)
        ax.axhline(ceiling, ls=":", c="grey", label="SELECT 1")
        ax.set_yscale("log")
        ax.set_xlabel("recall@10")
        ax.set_ylabel("queries / s")
        ax.set_title(f"{n} client{'s' if n > 1 else ''}", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    d = res["dataset"]
    fig.suptitle(f"{d['name']} ({d['rows']:,} × {d['dims']}, cosine), ef_search labelled", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
