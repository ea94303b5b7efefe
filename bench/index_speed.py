"""Indexing speed of the full corpus against the embedding floor.

    .venv/bin/python bench/index_speed.py [--mirror ../shared/corpus] [--keep DIR] [--profile]

Copies the brief and every mirror document into a fresh temporary corpus (what `usmca-assistant
corpus fetch --mirror` does), builds a fresh index with the model already loaded, and reports:

- total indexing time and chunks per second, with the indexer's own stage split (parse, embed +
  store, write);
- the floor: `Embedder.embed` over the same chunk texts, in the same order and batch size, i.e.
  what the embedding model alone needs; the ratio indexing / floor (target: at most 1.5);
- `Embedder.embed_with_sentences` alone over the same texts (passage + sentence vectors from one
  forward pass, what the indexer calls), to separate model time from storage time;
- the time of a no-op re-index (nothing changed) and the peak resident memory of the process.

With `--profile` (or automatically when the ratio is over 1.5 and `--no-auto-profile` is not
given) a second fresh build runs under cProfile and the functions that dominate are printed and
saved to bench/results/index_profile.txt. Figures go to bench/results/index_speed.json.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import BRIEF, MIRROR, ROOT  # noqa: E402
from _machine import RESULTS, machine, peak_rss_mb, write_results  # noqa: E402

from assistant.settings import Settings  # noqa: E402

TARGET_RATIO = 1.5


def fresh_corpus(folder: Path, mirror: Path) -> Settings:
    """A corpus folder holding the brief and the mirror's documents, and settings indexing it."""
    from assistant.ingest.fetch import fetch_documents
    from assistant.ingest.registry import load_registry

    corpus = folder / "corpus"
    (corpus / "brief").mkdir(parents=True, exist_ok=True)
    shutil.copy(BRIEF, corpus / "brief" / BRIEF.name)
    settings = Settings(
        index_dir=folder / "index",
        corpus_dirs=[corpus],
        registry_file=ROOT / "corpus" / "registry.json",
        user_docs_dir=corpus / "user",
        feedback_file=folder / "feedback.jsonl",
    )
    results = fetch_documents(load_registry(settings.registry_file), corpus, mirror=mirror)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise SystemExit(f"copying from the mirror failed: {failed}")
    return settings


def embedded_in_order(settings: Settings, report) -> list:
    """The chunks the indexer embedded, in the order it embedded them (document by document in
    plan order), read back from the committed index."""
    from assistant.index.store import load_snapshot, read_manifest

    snap = load_snapshot(settings.index_dir)
    docs = read_manifest(settings.index_dir)["documents"]
    order = []
    for t in report.plan.tasks:
        if t.action in ("add", "update", "rename") and t.doc_id in docs:
            order.extend(snap.chunks[cid] for cid in docs[t.doc_id]["chunk_ids"] if cid in snap.chunks)
    return order


def profile_build(mirror: Path, top: int = 30) -> str:
    """A second fresh build under cProfile; the top functions by own time and by cumulative time."""
    from assistant.index.indexer import Indexer

    with tempfile.TemporaryDirectory(prefix="usmca-index-profile-") as tmp:
        settings = fresh_corpus(Path(tmp), mirror)
        prof = cProfile.Profile()
        prof.enable()
        Indexer(settings).run()
        prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).strip_dirs()
    out.write("== by own time (tottime)\n")
    stats.sort_stats("tottime").print_stats(top)
    out.write("\n== by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirror", type=Path, default=MIRROR, help="the shared mirror folder (../shared/corpus)")
    ap.add_argument("--keep", type=Path, default=None, help="build in this (empty) folder and keep it")
    ap.add_argument("--profile", action="store_true", help="also profile a second fresh build (cProfile)")
    ap.add_argument("--no-auto-profile", action="store_true", help="do not profile when over the target")
    args = ap.parse_args()
    if not args.mirror.is_dir():
        raise SystemExit(f"mirror folder {args.mirror} does not exist")

    from assistant.index.embeddings import get_embedder
    from assistant.index.indexer import EMBED_BATCH, Indexer, sentence_spans

    before = machine()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="usmca-index-speed-"))
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        raise SystemExit(f"--keep folder {args.keep} must be empty (the build has to start from nothing)")
    try:
        settings = fresh_corpus(folder, args.mirror)
        t = time.perf_counter()
        embedder = get_embedder(settings.embedding_model, settings.embedding_batch_size)
        model_load_s = time.perf_counter() - t
        embedder.embed(["warm-up text for the model"] * settings.embedding_batch_size)
        rss_model = peak_rss_mb()

        t = time.perf_counter()
        report = Indexer(settings).run()
        index_s = time.perf_counter() - t
        rss_index = peak_rss_mb()
        if not report.ok:
            raise SystemExit(f"indexing failed: {report.errors}")
        chunks = embedded_in_order(settings, report)
        texts = [c.search_text for c in chunks]

        t = time.perf_counter()
        embedder.embed(texts)
        floor_s = time.perf_counter() - t

        t = time.perf_counter()
        for i in range(0, len(chunks), EMBED_BATCH):
            batch = chunks[i : i + EMBED_BATCH]
            shifts = [len(c.search_text) - len(c.text) for c in batch]
            spans = [[(a + d, b + d) for a, b in sentence_spans(c)] for c, d in zip(batch, shifts, strict=True)]
            embedder.embed_with_sentences([c.search_text for c in batch], spans)
        with_sentences_s = time.perf_counter() - t

        t = time.perf_counter()
        noop = Indexer(settings).run()
        noop_s = time.perf_counter() - t
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)

    n = report.chunks_total
    stages = {k: round(v, 2) for k, v in report.seconds.items()}
    by_kind: dict[str, int] = {}
    for c in chunks:
        by_kind[c.kind] = by_kind.get(c.kind, 0) + 1
    ratio = index_s / floor_s if floor_s else None
    result = {
        "machine_before": before,
        "machine_after": machine(),
        "documents": len(report.indexed),
        "chunks": n,
        "chunks_by_kind": by_kind,
        "characters_embedded": sum(len(t) for t in texts),
        "embedding_batch_size": settings.embedding_batch_size,
        "model_load_s": round(model_load_s, 2),
        "index_s": round(index_s, 2),
        "index_stages_s": stages,
        "chunks_per_s": round(n / index_s, 1),
        "floor_embed_s": round(floor_s, 2),
        "floor_chunks_per_s": round(len(texts) / floor_s, 1),
        "embed_with_sentences_s": round(with_sentences_s, 2),
        "ratio_index_to_floor": round(ratio, 3) if ratio else None,
        "ratio_embed_with_sentences_to_floor": round(with_sentences_s / floor_s, 3) if floor_s else None,
        "ratio_embed_stage_to_floor": round(report.seconds.get("embed", 0) / floor_s, 3) if floor_s else None,
        "target_ratio": TARGET_RATIO,
        "meets_target": bool(ratio is not None and ratio <= TARGET_RATIO),
        "noop_reindex_s": round(noop_s, 2),
        "noop_embedded": noop.chunks_embedded,
        "peak_rss_mb_after_model_load": rss_model,
        "peak_rss_mb_after_indexing": rss_index,
        "peak_rss_mb_end": peak_rss_mb(),
    }
    if args.profile or (ratio and ratio > TARGET_RATIO and not args.no_auto_profile):
        text = profile_build(args.mirror)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "index_profile.txt").write_text(text, encoding="utf-8")
        result["profile"] = str(RESULTS / "index_profile.txt")
    path = write_results("index_speed", result)

    print(f"machine: {before['cpu']}, {before['cores']} cores, {before['memory_gb']} GB, "
          f"load {before['load_avg_1_5_15']} -> {result['machine_after']['load_avg_1_5_15']}")
    print(f"corpus: {result['documents']} documents, {n} chunks {by_kind}")
    print(f"model load            {model_load_s:8.1f} s (excluded below)")
    print(f"index (fresh)         {index_s:8.1f} s  = {n / index_s:6.1f} chunks/s  stages {stages}")
    print(f"floor: embed()        {floor_s:8.1f} s  = {len(texts) / floor_s:6.1f} chunks/s")
    print(f"embed_with_sentences  {with_sentences_s:8.1f} s  ({with_sentences_s / floor_s:.2f}x floor)")
    print(f"ratio index / floor   {ratio:8.2f}   (target <= {TARGET_RATIO}: "
          f"{'met' if result['meets_target'] else 'NOT met'})")
    print(f"no-op re-index        {noop_s:8.2f} s  ({noop.chunks_embedded} chunks embedded)")
    print(f"peak RSS              {rss_model} MB after model load, {rss_index} MB after indexing")
    if "profile" in result:
        print(f"profile: {result['profile']}")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
