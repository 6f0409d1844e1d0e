"""Memory benchmarks: indexing the installed ``ray`` package, search latency, ANN recall.

    python benchmarks/memory.py index [--subset serve,air] [--replicas 2]
    python benchmarks/memory.py search [--rows 100000]     # vector, text, hybrid at 100k chunks
    python benchmarks/memory.py ann [--rows 1000000]       # vector latency and recall@10 at 1M

Each part prints a Markdown table and writes its figures to benchmarks/out/memory-<part>.json.

* ``index`` runs ``ekklesia index``'s code path (Ray, the embedder pool, the writer actor) over
  the Python source of the installed ``ray`` package, or the named sub-packages of it; peak RSS is
  the largest sum of resident memory over this process and every process it started (Ray's).
* ``search`` builds a 100k-chunk LanceDB table from real chunks of ray's source: the texts are
  real, the vectors are their real MiniLM embeddings plus small Gaussian noise (so the 100k vectors
  are distinct but keep the shape of real data); queries are real MiniLM embeddings of questions.
* ``ann`` builds a table of synthetic, clustered unit vectors (no text) and compares the ANN
  index's top 10 with the exact top 10 (computed with NumPy) for held-out queries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

OUT = Path(__file__).parent / "out"
QUESTIONS = [
    "how does the scheduler place actors on nodes",
    "retry a task when the worker dies",
    "serialize objects into the object store",
    "autoscaling replicas based on queue length",
    "read parquet files into a dataset",
    "how are placement groups created",
    "HTTP proxy routes requests to deployments",
    "checkpoint the training state",
    "set the number of GPUs for an actor",
    "cancel a running task",
    "runtime environment with pip packages",
    "shuffle blocks between workers",
    "log to the driver from remote functions",
    "health check of a replica fails",
    "object spilling to disk when memory is full",
    "hyperparameter search with early stopping",
    "batch requests together before calling the model",
    "gcs stores cluster metadata",
    "named actors in a namespace",
    "streaming generator yields results",
]


# -- measuring helpers --------------------------------------------------------------------------


def _tree_rss() -> int:
    """Resident bytes of this process and all its descendants (Ray's processes included)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree = {os.getpid()}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * page
        except OSError:
            continue
    return total


class PeakRss:
    def __init__(self, every_s: float = 0.5) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)

    def _run(self, every_s: float) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss())
            self._stop.wait(every_s)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _tree_rss())


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (
        statistics.median(ordered) * 1000,
        ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000,
    )


def _machine() -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, load average at the end "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
    )


def _save(part: str, figures: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    figures["machine"] = _machine()
    figures["command"] = "python benchmarks/memory.py " + " ".join(sys.argv[1:])
    (OUT / f"memory-{part}.json").write_text(json.dumps(figures, indent=2))


def _ray_root() -> Path:
    import ray

    return Path(ray.__file__).parent


# -- index --------------------------------------------------------------------------------------


def bench_index(subset: list[str], replicas: int) -> dict[str, Any]:
    from ekklesia.memory.indexer import open_indexer

    os.environ.setdefault("EKKLESIA_HOME", tempfile.mkdtemp(prefix="ekklesia-bench-"))
    root = _ray_root()
    targets = [root / s for s in subset] if subset else [root]
    indexer = open_indexer("bench", replicas=replicas)
    asyncio.run(indexer.embedder.embed(["load the model before the clock starts"]))
    files = chunks = skipped = 0
    with PeakRss() as rss:
        started = time.perf_counter()
        for target in targets:
            report = asyncio.run(indexer.index(target))
            files += report.files_indexed
            chunks += report.chunks_added
            skipped += report.files_skipped
        wall = time.perf_counter() - started
    again = sum(asyncio.run(indexer.index(t)).chunks_embedded for t in targets)
    figures = {
        "what": ", ".join(str(t.relative_to(root.parent)) for t in targets),
        "replicas": replicas,
        "files": files,
        "files_skipped": skipped,
        "chunks": chunks,
        "wall_s": wall,
        "chunks_per_s": chunks / wall,
        "peak_rss_gib": rss.peak / 2**30,
        "reindex_embedded": again,
    }
    print(
        "| indexed | files | skipped | chunks | wall s | chunks/s | peak RSS GiB "
        "| re-run embeds |\n"
        "|---|---|---|---|---|---|---|---|\n"
        f"| `{figures['what']}` | {files} | {skipped} | {chunks} | {wall:.1f} | "
        f"{chunks / wall:.1f} | {rss.peak / 2**30:.2f} | {again} |"
    )
    return figures


# -- search at 100k chunks ----------------------------------------------------------------------


def _table(ids: list[str], texts: list[str], vectors: np.ndarray[Any, Any]) -> pa.Table:
    from ekklesia.memory.schema import entry_schema

    n, dim = vectors.shape
    now = time.time()
    columns = {
        "id": ids,
        "text": texts,
        "scope": ["global"] * n,
        "kind": ["chunk"] * n,
        "source": [f"doc{i % 1000}" for i in range(n)],
        "tags": [[] for _ in range(n)],
        "meta": ["{}"] * n,
        "created_at": [now] * n,
        "touched_at": [now] * n,
    }
    schema = entry_schema(dim)
    arrays = [pa.array(columns[f.name], type=f.type) for f in schema if f.name != "vector"]
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    return pa.Table.from_arrays(
        [*arrays, pa.FixedSizeListArray.from_arrays(flat, dim)], schema=schema
    )


def _unit(matrix: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def _recall(found: list[list[str]], truth: list[list[str]]) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
    )


def _exact_top(
    matrix: np.ndarray[Any, Any], queries: np.ndarray[Any, Any], k: int
) -> list[list[int]]:
    out = []
    for start in range(0, len(queries), 16):
        scores = queries[start : start + 16] @ matrix.T
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        for row, cand in zip(scores, top, strict=True):
            out.append([int(i) for i in cand[np.argsort(-row[cand])]])
    return out


def _latencies(
    store: Any, queries: list[Any], rounds: int = 1
) -> tuple[list[float], list[list[str]]]:
    from ekklesia.memory.query import Query

    samples: list[float] = []
    found: list[list[str]] = []

    async def run() -> None:
        for _ in range(rounds):
            for query in queries:
                assert isinstance(query, Query)
                started = time.perf_counter()
                hits = await store.search(query)
                samples.append(time.perf_counter() - started)
                found.append([h.id for h in hits])

    asyncio.run(run())
    return samples, found


SWEEP = [(20, 4), (40, 10), (80, 20), (120, 30), (160, 40)]


def _sweep(config: Any, queries: list[Any], truth: list[list[str]]) -> list[dict[str, float]]:
    """Recall@10 and latency of the vector search for each (nprobes, refine_factor) in SWEEP."""
    rows = []
    for nprobes, refine in SWEEP:
        reader = config.model_copy(update={"nprobes": nprobes, "refine_factor": refine}).open()
        _latencies(reader, queries[:3])
        samples, found = _latencies(reader, queries, rounds=2)
        p50, p95 = _percentiles(samples)
        recall = _recall(found[: len(queries)], truth)
        rows.append(
            {"nprobes": nprobes, "refine": refine, "recall": recall, "p50": p50, "p95": p95}
        )
    print("\n| nprobes | refine factor | recall@10 | p50 ms | p95 ms |\n|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['nprobes']} | {row['refine']} | {row['recall']:.3f} | {row['p50']:.1f} "
            f"| {row['p95']:.1f} |"
        )
    return rows


def bench_search(rows: int, source_chunks: int, nprobes: int, refine: int) -> dict[str, Any]:
    from ekklesia.memory.chunking import chunk_file
    from ekklesia.memory.minilm import MiniLMEmbedder
    from ekklesia.memory.query import Query
    from ekklesia.memory.vectors import VectorTierConfig

    texts: list[str] = []
    for path in sorted(_ray_root().rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        texts.extend(c.text for c in chunk_file(".py", path.read_text(errors="replace")))
        if len(texts) >= source_chunks:
            break
    texts = texts[:source_chunks]
    model = MiniLMEmbedder()
    started = time.perf_counter()
    base = model.encode(texts)
    embed_s = time.perf_counter() - started
    rng = np.random.default_rng(0)
    picks = np.arange(rows) % len(texts)
    vectors = _unit(base[picks] + rng.normal(0, 0.03, size=(rows, base.shape[1])))
    all_texts = [texts[i] for i in picks]
    ids = [f"c{i}" for i in range(rows)]
    uri = tempfile.mkdtemp(prefix="ekklesia-bench-search-")
    config = VectorTierConfig(
        uri=uri, table="chunks", nprobes=nprobes, refine_factor=refine, ann_min_rows=256
    )
    store = config.open(writer=True)
    started = time.perf_counter()
    for start in range(0, rows, 20_000):
        end = start + 20_000
        asyncio.run(store.append(_table(ids[start:end], all_texts[start:end], vectors[start:end])))
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    store.build_indexes(ann=True)
    index_s = time.perf_counter() - started
    reader = config.open()
    query_vectors = model.encode(QUESTIONS)
    figures: dict[str, Any] = {
        "rows": rows,
        "distinct_texts": len(texts),
        "embed_source_s": embed_s,
        "load_s": load_s,
        "index_s": index_s,
    }
    lines = ["| mode | p50 ms | p95 ms | queries |", "|---|---|---|---|"]
    for mode in ("vector", "text", "hybrid"):
        queries = [
            Query(text=q, vector=v, k=10, mode=mode)
            for q, v in zip(QUESTIONS, query_vectors, strict=True)
        ]
        _latencies(reader, queries[:3])  # warm the caches
        samples, _ = _latencies(reader, queries, rounds=10)
        p50, p95 = _percentiles(samples)
        figures[mode] = {"p50_ms": p50, "p95_ms": p95, "queries": len(samples)}
        lines.append(f"| {mode} | {p50:.1f} | {p95:.1f} | {len(samples)} |")
    print("\n".join(lines))
    truth = [[ids[i] for i in t] for t in _exact_top(vectors, query_vectors, 10)]
    vector_queries = [Query(vector=v, k=10, mode="vector") for v in query_vectors]
    figures["sweep"] = _sweep(config, vector_queries, truth)
    return figures


# -- ANN at 1M vectors --------------------------------------------------------------------------


def bench_ann(rows: int, dim: int, index_type: str) -> dict[str, Any]:
    from ekklesia.memory.query import Query
    from ekklesia.memory.vectors import VectorTierConfig

    rng = np.random.default_rng(1)
    centers = _unit(rng.normal(size=(2000, dim)))
    assignment = rng.integers(0, len(centers), size=rows)
    vectors = np.empty((rows, dim), dtype=np.float32)
    for start in range(0, rows, 100_000):
        end = min(rows, start + 100_000)
        noise = rng.normal(0, 0.6 / np.sqrt(dim), size=(end - start, dim))
        vectors[start:end] = _unit(centers[assignment[start:end]] + noise)
    ids = [f"v{i}" for i in range(rows)]
    uri = tempfile.mkdtemp(prefix="ekklesia-bench-ann-")
    config = VectorTierConfig(
        uri=uri,
        table="vectors",
        dim=dim,
        ann_index=index_type,  # type: ignore[arg-type]
        ann_min_rows=256,
    )
    store = config.open(writer=True)
    started = time.perf_counter()
    for start in range(0, rows, 50_000):
        end = min(rows, start + 50_000)
        asyncio.run(store.append(_table(ids[start:end], ["x"] * (end - start), vectors[start:end])))
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    store.build_ann_index()
    index_s = time.perf_counter() - started
    queries = _unit(
        centers[rng.integers(0, len(centers), 100)] + rng.normal(0, 0.6 / np.sqrt(dim), (100, dim))
    )
    batch = [Query(vector=q, k=10, mode="vector") for q in queries]
    truth = [[ids[i] for i in t] for t in _exact_top(vectors, queries, 10)]
    print(f"{rows:,} vectors x {dim}, {index_type}:", end=" ")
    print(f"loaded in {load_s:.0f}s, indexed in {index_s:.0f}s")
    return {
        "rows": rows,
        "dim": dim,
        "index": index_type,
        "load_s": load_s,
        "index_s": index_s,
        "sweep": _sweep(config, batch, truth),
    }


def main() -> None:
    from ekklesia.memory.vectors import VectorTierConfig

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parts = parser.add_subparsers(dest="part", required=True)
    index = parts.add_parser("index")
    index.add_argument("--subset", default="", help="comma-separated sub-packages of ray")
    index.add_argument("--replicas", type=int, default=2)
    search = parts.add_parser("search")
    search.add_argument("--rows", type=int, default=100_000)
    search.add_argument("--source-chunks", type=int, default=2000)
    search.add_argument(
        "--nprobes", type=int, default=VectorTierConfig.model_fields["nprobes"].default
    )
    search.add_argument(
        "--refine", type=int, default=VectorTierConfig.model_fields["refine_factor"].default
    )
    ann = parts.add_parser("ann")
    ann.add_argument("--rows", type=int, default=1_000_000)
    ann.add_argument("--dim", type=int, default=384)
    ann.add_argument("--index", default="IVF_HNSW_SQ", choices=["IVF_HNSW_SQ", "IVF_PQ"])
    args = parser.parse_args()
    if args.part == "index":
        figures = bench_index([s for s in args.subset.split(",") if s], args.replicas)
    elif args.part == "search":
        figures = bench_search(args.rows, args.source_chunks, args.nprobes, args.refine)
    else:
        figures = bench_ann(args.rows, args.dim, args.index)
    _save(args.part, figures)
    print(f"\n{_machine()}")


if __name__ == "__main__":
    main()
