"""Embedders compared on the tuning sets: BM25, MiniLM, multilingual e5, and their fusions.

    .venv/bin/python bench/embedders.py [--index-dir DIR] [--mirror ../shared/corpus] [--probe]

Builds (once) the full index of the brief + the mirror with the product's settings (MiniLM), then
embeds the same dense passages (every chunk except the lexical-only kinds: what the indexer embeds,
as `search_text`) with MiniLM and with e5 into in-memory matrices, timing each: the embedding floor
of each model. Retrieval reuses `HybridRetriever.search` (BM25 with its tariff-line rule, exact
lookup of articles/sections/items, note and brief priors, figure text) with the dense side replaced
by exact search over those matrices, and the fusion generalised to any set of channels by weighted
reciprocal rank: score = sum over channels of weight / (rrf_k + rank). "hybrid (product)" is the
product's own retriever over Chroma, as a check that the re-implementation matches it.

Question sets (tuning sets only; never a sealed set): dev (../shared/eval/dev.jsonl), heldout,
test (bench/questions/), es_twins (bench/questions/es_twins.jsonl: Spanish versions of English
questions of those three sets, same evidence, written for this comparison), and the answerable
items of bench/calibration_questions.jsonl, which have no evidence quotes: for them a hit is a
passage that holds every must-mention string (a weaker proxy, reported apart).

Spanish questions are run three ways: as typed; as the product runs them today, through the
glossary's English gloss (assistant/retrieve/translate.py `expand_query`) for every channel; and
split (BM25 and MiniLM on the gloss, e5 on the question as typed). The RRF grid is fitted on dev +
heldout (MRR@10, Spanish as typed) and read on the others. Figures go to bench/results/embedders.json;
the passage vectors and floors are saved next to the index and reused unless `--refloor`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEV_SET, MIRROR, ROOT, full_corpus_settings  # noqa: E402
from _machine import machine, ms, peak_rss_mb, write_results  # noqa: E402

from assistant.evaluate.metrics import EVIDENCE_DEPTH, first_hit_rank, mention_present  # noqa: E402
from assistant.index.store import IndexReader, Snapshot  # noqa: E402
from assistant.retrieve.hybrid import HybridRetriever, Query  # noqa: E402

DEFAULT_DIR = Path(tempfile.gettempdir()) / "usmca-bench-embedders"
SETS = {
    "dev": DEV_SET,
    "heldout": ROOT / "bench" / "questions" / "heldout.jsonl",
    "test": ROOT / "bench" / "questions" / "test.jsonl",
    "es_twins": ROOT / "bench" / "questions" / "es_twins.jsonl",
    "calibration": ROOT / "bench" / "calibration_questions.jsonl",
}
FIT_SETS = ("dev", "heldout")
MINILM, E5 = "minilm", "e5"
GRID_K = (5, 10, 20, 60)
GRID_MINILM = (0.0, 0.5, 1.0)
GRID_E5 = (0.0, 0.5, 1.0, 1.5, 2.0)
ROUTED_BM25 = (0.0, 0.25, 0.5, 1.0)  # BM25's weight for questions not in English (e5 1.5)


# ---- questions ------------------------------------------------------------------------------


@dataclass
class Item:
    set: str
    id: str
    question: str
    language: str
    evidence: list[str]
    mentions: list[str]
    twin: str = ""
    texts: dict[str, str] = field(default_factory=dict)  # variant -> text searched


def load_items() -> list[Item]:
    from assistant.retrieve.language import detect_language
    from assistant.retrieve.translate import expand_query

    items = []
    for name, path in SETS.items():
        if "sealed" in path.name:  # never, whatever the table above says
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            if not r.get("answerable", True) or r.get("history"):
                continue
            evidence, mentions = list(r.get("evidence") or []), list(r.get("must_mention") or [])
            if not evidence and not mentions:
                continue
            q = r["question"]
            it = Item(name, r["id"], q, detect_language(q), evidence, mentions, r.get("twin", ""))
            it.texts = {"typed": q, "gloss": expand_query(q)}
            items.append(it)
    return items


def first_rank(texts: list[str], it: Item) -> int | None:
    if it.evidence:
        return first_hit_rank(texts, it.evidence, EVIDENCE_DEPTH)
    return next((i for i, t in enumerate(texts[:EVIDENCE_DEPTH], 1)
                 if all(mention_present(t, m) for m in it.mentions)), None)


def scores(ranks: list[int | None]) -> dict[str, float | int | None]:
    n = len(ranks)
    if not n:
        return {"n": 0, "hit_at_1": None, "hit_at_5": None, "mrr_at_10": None}
    return {
        "n": n,
        "hit_at_1": round(sum(r is not None and r <= 1 for r in ranks) / n, 3),
        "hit_at_5": round(sum(r is not None and r <= 5 for r in ranks) / n, 3),
        "mrr_at_10": round(sum(1.0 / r for r in ranks if r is not None and r <= EVIDENCE_DEPTH) / n, 3),
    }


# ---- dense channels over in-memory matrices -------------------------------------------------


class DenseMatrix:
    """Exact cosine search over one model's passage vectors, with the retriever's kind and
    document filters."""

    def __init__(self, embedder: Any, chunks: list, vectors: np.ndarray):
        self.embedder = embedder
        self.ids = [c.id for c in chunks]
        self.kinds = np.array([c.kind for c in chunks])
        self.docs = np.array([c.document_id for c in chunks])
        self.vectors = vectors
        self._queries: dict[str, np.ndarray] = {}

    def query_vector(self, text: str) -> np.ndarray:
        if text not in self._queries:
            self._queries[text] = self.embedder.embed_query(text)
        return self._queries[text]

    def search(self, text: str, n: int, kinds: set[str] | None, documents: set[str] | None) -> list[tuple[str, float]]:
        sims = self.vectors @ self.query_vector(text)
        mask = np.ones(len(self.ids), dtype=bool)
        if kinds:
            mask &= np.isin(self.kinds, sorted(kinds))
        if documents:
            mask &= np.isin(self.docs, sorted(documents))
        sims = np.where(mask, sims, -np.inf)
        top = np.argsort(-sims, kind="stable")[:n]
        return [(self.ids[i], float(sims[i])) for i in top if np.isfinite(sims[i])]


class ChannelRetriever(HybridRetriever):
    """The product's retriever with the dense side replaced by any weighted set of channels.

    `weights` maps "bm25" and the dense channel names to RRF weights (0 or absent: the channel is
    off); `dense_text` gives each dense channel the text it embeds (default: the query's text)."""

    def __init__(self, reader: IndexReader, channels: dict[str, DenseMatrix], **kw: Any):
        super().__init__(reader, vectors=None, embedder=None, **kw)  # type: ignore[arg-type]
        self.channels = channels
        self.weights: dict[str, float] = {"bm25": 1.0}
        self.dense_text: dict[str, str] = {}
        self._runs: dict[str, list[tuple[str, float]]] = {}

    def _dense(self, q: Query, snap: Snapshot, kinds: set[str] | None) -> list[tuple[str, float]]:
        self._runs = {}
        for name, m in self.channels.items():
            if self.weights.get(name, 0.0) > 0:
                hits = m.search(self.dense_text.get(name, q.text), self.dense_candidates, kinds, q.documents)
                self._runs[name] = [(cid, s) for cid, s in hits if cid in snap.chunks]
        return next(iter(self._runs.values()), [])

    def _fuse(self, lexical: list[tuple[str, float]], dense: list[tuple[str, float]], mode: str
              ) -> dict[str, tuple[float, float | None, float | None]]:
        out: dict[str, tuple[float, float | None, float | None]] = {}
        runs = [("bm25", lexical), *self._runs.items()]
        for name, hits in runs:
            w = self.weights.get(name, 0.0)
            if w <= 0:
                continue
            for rank, (cid, score) in enumerate(hits):
                s, d, lx = out.get(cid, (0.0, None, None))
                if name == "bm25":
                    lx = score
                elif d is None:
                    d = score
                out[cid] = (s + w / (self.rrf_k + rank + 1), d, lx)
        return out


# ---- runs -----------------------------------------------------------------------------------


@dataclass
class Config:
    label: str
    weights: dict[str, float]
    rrf_k: int
    spanish: str = "typed"  # typed | gloss | split
    other_weights: dict[str, float] | None = None  # for questions not in English (default: `weights`)


def run(retriever: ChannelRetriever, items: list[Item], cfg: Config) -> dict[str, int | None]:
    retriever.rrf_k = cfg.rrf_k
    out: dict[str, int | None] = {}
    for it in items:
        retriever.weights = cfg.other_weights if cfg.other_weights and it.language != "en" else cfg.weights
        variant = "typed" if cfg.spanish == "split" else cfg.spanish
        text = it.texts[variant] if it.language != "en" else it.question
        retriever.dense_text = {}
        if cfg.spanish == "split" and it.language != "en":
            retriever.dense_text = {MINILM: it.texts["gloss"], E5: it.question}
            text = it.texts["gloss"]
        hits = retriever.search(Query(text, k=EVIDENCE_DEPTH))
        out[f"{it.set}/{it.id}"] = first_rank([h.chunk.text for h in hits], it)
    return out


def summarize(items: list[Item], ranks: dict[str, int | None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in SETS:
        for lang in ("en", "es"):
            rs = [ranks[f"{it.set}/{it.id}"] for it in items if it.set == name and it.language == lang]
            if rs:
                out[f"{name}/{lang}"] = scores(rs)
    twins = {it.twin for it in items if it.twin}
    rs = [ranks[f"{it.set}/{it.id}"] for it in items if it.id in twins and it.set != "es_twins"]
    if rs:
        out["twins_en/en"] = scores(rs)
    fit = [ranks[f"{it.set}/{it.id}"] for it in items if it.set in FIT_SETS]
    out["fit(dev+heldout)"] = scores(fit)
    spanish = [ranks[f"{it.set}/{it.id}"] for it in items if it.language == "es" and it.evidence]
    out["all_es_with_evidence"] = scores(spanish)
    return out


def table(rows: dict[str, dict[str, Any]], columns: list[str], metric: str) -> str:
    head = "| configuration | " + " | ".join(columns) + " |"
    lines = [head, "| --- |" + " ---: |" * len(columns)]
    for label, summ in rows.items():
        cells = []
        for c in columns:
            s = summ.get(c)
            cells.append("-" if not s or s[metric] is None else f"{s[metric]:.3f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def timed_embedding(embedder: Any, texts: list[str]) -> tuple[np.ndarray, float, float]:
    t, c = time.perf_counter(), time.process_time()
    vecs = embedder.embed_passages(texts)
    return vecs, time.perf_counter() - t, time.process_time() - c


def query_latency(embedder: Any, questions: list[str]) -> dict[str, float]:
    embedder.clear_cache()
    xs = []
    for q in questions:
        t = time.perf_counter()
        embedder.embed_query(q)
        xs.append(time.perf_counter() - t)
    embedder.clear_cache()
    xs.sort()
    return {"n": len(xs), "p50_ms": ms(xs[len(xs) // 2]), "p95_ms": ms(xs[int(0.95 * (len(xs) - 1))])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_DIR, help="folder holding (or to hold) the index")
    ap.add_argument("--refloor", action="store_true",
                    help="embed the passages again (else vectors and floors saved by an earlier run are reused)")
    args = ap.parse_args()

    from assistant.index.embeddings import get_embedder
    from assistant.index.vectors import VectorStore, make_client

    before = machine()
    settings = full_corpus_settings(args.index_dir, mirror=args.mirror)
    reader = IndexReader(settings.index_dir)
    snap = reader.snapshot()
    lexical_only = set(settings.lexical_only_kinds)
    order = [snap.chunks[cid] for cid in snap.lexical.ids]
    dense_chunks = [c for c in order if c.kind not in lexical_only]
    texts = [c.search_text for c in dense_chunks]
    print(f"index: {len(snap.chunks)} passages, {len(dense_chunks)} embedded (lexical-only: {sorted(lexical_only)})")

    embedders = {MINILM: get_embedder(settings.embedding_model, settings.embedding_batch_size),
                 E5: get_embedder("multilingual-e5-small", settings.embedding_batch_size)}
    floors: dict[str, Any] = {}
    matrices: dict[str, DenseMatrix] = {}
    digest = hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()[:16]
    for name, emb in embedders.items():
        cache = args.index_dir / f"vectors-{name}-{digest}.npy"
        if cache.exists() and not args.refloor:
            vecs = np.load(cache)
            floors[name] = json.loads(cache.with_suffix(".json").read_text(encoding="utf-8"))
            print(f"floor {name:7s} (from {cache.name}, measured {floors[name]['measured']})")
        else:
            emb.embed_passages(["warm-up text for the model"] * settings.embedding_batch_size)
            vecs, wall, cpu = timed_embedding(emb, texts)
            floors[name] = {"model": emb.name, "passages": len(texts), "characters": sum(map(len, texts)),
                            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                            "passages_per_s": round(len(texts) / wall, 1),
                            "load_avg_after": [round(x, 2) for x in os.getloadavg()],
                            "measured": time.strftime("%Y-%m-%d %H:%M")}
            np.save(cache, vecs)
            cache.with_suffix(".json").write_text(json.dumps(floors[name]), encoding="utf-8")
            print(f"floor {name:7s} {wall:7.1f} s wall, {cpu:7.1f} s cpu, {len(texts) / wall:6.1f} passages/s")
        matrices[name] = DenseMatrix(emb, dense_chunks, vecs)

    items = load_items()
    questions = [it.question for it in items]
    for name, emb in embedders.items():
        floors[name]["query"] = query_latency(emb, questions[:60])
        print(f"query {name:7s} p50 {floors[name]['query']['p50_ms']} ms, p95 {floors[name]['query']['p95_ms']} ms (1 thread)")

    kw = dict(dense_candidates=settings.dense_candidates, lexical_candidates=settings.lexical_candidates,
              tariff_ratio=settings.tariff_ratio, kind_prior={"brief": settings.brief_prior} if settings.brief_prior else None,
              note_prior=settings.note_prior)
    retriever = ChannelRetriever(reader, matrices, **kw)
    k0 = settings.rrf_k
    configs = [
        Config("BM25", {"bm25": 1.0}, k0),
        Config("MiniLM", {MINILM: 1.0}, k0),
        Config("e5", {E5: 1.0}, k0),
        Config("BM25+MiniLM (today)", {"bm25": 1.0, MINILM: 1.0}, k0),
        Config("BM25+e5", {"bm25": 1.0, E5: 1.0}, k0),
        Config("BM25+MiniLM+e5", {"bm25": 1.0, MINILM: 1.0, E5: 1.0}, k0),
    ]
    results: dict[str, Any] = {}
    all_ranks: dict[str, dict[str, int | None]] = {}
    for spanish in ("typed", "gloss", "split"):
        for cfg in configs:
            if spanish == "split" and E5 not in cfg.weights:
                continue
            c = Config(cfg.label, cfg.weights, cfg.rrf_k, spanish)
            label = f"{c.label} [es {spanish}]"
            all_ranks[label] = run(retriever, items, c)
            results[label] = summarize(items, all_ranks[label])

    # the product's own retriever over Chroma, as a check of the re-implementation
    product = HybridRetriever.from_settings(reader, VectorStore(make_client(settings.index_dir), settings.embedding_model),
                                            embedders[MINILM], settings)
    ranks = {}
    for it in items:
        text = it.texts["gloss"] if it.language != "en" else it.question
        ranks[f"{it.set}/{it.id}"] = first_rank([h.chunk.text for h in product.search(Query(text, k=EVIDENCE_DEPTH))], it)
    results["hybrid (product, Chroma) [es gloss]"] = summarize(items, ranks)

    # grid: fitted on dev + heldout, MRR@10, Spanish as typed and split
    grid: list[dict[str, Any]] = []
    for spanish in ("typed", "split"):
        for k in GRID_K:
            for wm in GRID_MINILM:
                for we in GRID_E5:
                    if spanish == "split" and we == 0:
                        continue
                    cfg = Config(f"k={k} bm25=1 minilm={wm} e5={we}", {"bm25": 1.0, MINILM: wm, E5: we}, k, spanish)
                    summ = summarize(items, run(retriever, items, cfg))
                    grid.append({"rrf_k": k, "minilm": wm, "e5": we, "spanish": spanish, "summary": summ})
    for spanish in ("typed", "split"):
        for wm_set, name in (((0.0,), "BM25+e5"), (GRID_MINILM[1:], "BM25+MiniLM+e5")):
            cands = [g for g in grid if g["spanish"] == spanish and g["minilm"] in wm_set and g["e5"] > 0]
            best = max(cands, key=lambda g: (g["summary"]["fit(dev+heldout)"]["mrr_at_10"],
                                             g["summary"]["fit(dev+heldout)"]["hit_at_5"]))
            label = f"{name} fitted k={best['rrf_k']} minilm={best['minilm']} e5={best['e5']} [es {spanish}]"
            results[label] = best["summary"]
    best_today = max((g for g in grid if g["spanish"] == "typed" and g["e5"] == 0 and g["minilm"] > 0),
                     key=lambda g: g["summary"]["fit(dev+heldout)"]["mrr_at_10"])
    results[f"BM25+MiniLM fitted k={best_today['rrf_k']} minilm={best_today['minilm']} [es typed]"] = best_today["summary"]

    # questions not in English routed to other weights: MiniLM is English-only, and BM25 matches
    # English stems; fitted on dev + heldout for English, read on every Spanish set
    for wl in ROUTED_BM25:
        for spanish in ("typed", "gloss"):
            cfg = Config(f"routed: en BM25+MiniLM+e5 k=5 0.5/1.5; other BM25 {wl} + e5 1.5", {"bm25": 1.0, MINILM: 0.5, E5: 1.5},
                         5, spanish, other_weights={"bm25": wl, E5: 1.5})
            label = f"{cfg.label} [es {spanish}]"
            all_ranks[label] = run(retriever, items, cfg)
            results[label] = summarize(items, all_ranks[label])

    columns = ["dev/en", "heldout/en", "test/en", "calibration/en", "fit(dev+heldout)", "twins_en/en",
               "dev/es", "heldout/es", "test/es", "es_twins/es", "all_es_with_evidence"]
    out = {
        "machine_before": before,
        "machine_after": machine(),
        "peak_rss_mb": peak_rss_mb(),
        "index_dir": str(settings.index_dir),
        "embedded_passages": len(dense_chunks),
        "floors": floors,
        "items": {name: {lang: sum(1 for it in items if it.set == name and it.language == lang) for lang in ("en", "es")}
                  for name in SETS},
        "settings": {"rrf_k": k0, "dense_candidates": settings.dense_candidates,
                     "lexical_candidates": settings.lexical_candidates, "brief_prior": settings.brief_prior,
                     "note_prior": settings.note_prior},
        "fit_sets": list(FIT_SETS),
        "results": results,
        "grid": grid,
        "ranks": all_ranks,
    }
    path = write_results("embedders", out)
    for metric in ("hit_at_1", "hit_at_5", "mrr_at_10"):
        print(f"\n### {metric}\n")
        print(table(results, columns, metric))
    print("\nitems per set and language:", out["items"])
    print(f"-> {path}")


if __name__ == "__main__":
    main()
