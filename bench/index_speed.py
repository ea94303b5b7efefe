"""Indexing speed of the full corpus against the embedding floor.

    .venv/bin/python bench/index_speed.py [--mirror ../shared/corpus] [--keep DIR] [--profile] [--also MODEL]
    .venv/bin/python bench/index_speed.py --existing DIR      # paired comparison only, on a built index

Copies the brief and every mirror document into a fresh temporary corpus (what `usmca-assistant
corpus fetch --mirror` does), builds a fresh index with the model already loaded, and reports:

- total indexing time and chunks per second, with the indexer's own stage split (parse, embed +
  store, write), in wall time and in CPU time of this process;
- the floor: `Embedder.embed_passages` over the chunk texts the indexer embeds (every chunk except the
  lexical-only kinds, `settings.lexical_only_kinds`: the tariff lines), in the same order and batch
  size, i.e. what the embedding model alone needs; the ratio indexing / floor (target: at most 1.5);
- the time of a no-op re-index (nothing changed) and the peak resident memory of the process;
- with `--also MODEL` (e.g. `--also multilingual-e5-small`, repeatable): each other model's own
  floor, `embed_passages` over the same texts, and the projected ratio of an index that also embeds
  them, (build + their floors) / (sum of all floors): what a second dense channel would cost,
  measured before the indexer embeds with it.

On a shared machine the build and the floor run minutes apart under different load, which can
move the ratio more than the code does. So a paired comparison follows: over a sample of the same
chunks (every `--paired-every`-th), block by block in the indexer's step size and alternating the
order, `Embedder.embed_passages` (the floor), `Embedder.embed_with_sentences` (what the indexer calls:
passage and sentence vectors from one forward pass) and the Chroma upsert of the results into a
scratch collection. Neighbours' load hits every phase alike, so these ratios say what the
indexer's work costs beyond the model.

`--profile` profiles a second fresh build under cProfile (CPU-time clock) and saves the functions
that dominate to bench/results/index_profile.txt. Figures go to bench/results/index_speed.json
(`--existing`: index_speed_paired.json).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import BRIEF, MIRROR, ROOT  # noqa: E402
from _machine import RESULTS, machine, peak_rss_mb, write_results  # noqa: E402

from assistant.settings import Settings  # noqa: E402

TARGET_RATIO = 1.5
UPSERT_STEP_BATCHES = 8  # the indexer embeds and upserts 8 model batches at a time


class Clock:
    """Wall and CPU seconds (this process, all threads) of what runs inside `with`."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Clock:
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._w
        self.cpu += time.process_time() - self._c


def settings_for(folder: Path) -> Settings:
    corpus = folder / "corpus"
    return Settings(
        index_dir=folder / "index",
        corpus_dirs=[corpus],
        registry_file=ROOT / "corpus" / "registry.json",
        user_docs_dir=corpus / "user",
        feedback_file=folder / "feedback.jsonl",
    )


def fresh_corpus(folder: Path, mirror: Path) -> Settings:
    """A corpus folder holding the brief and the mirror's documents, and settings indexing it."""
    from assistant.ingest.fetch import fetch_documents
    from assistant.ingest.registry import load_registry

    settings = settings_for(folder)
    corpus = settings.corpus_dirs[0]
    (corpus / "brief").mkdir(parents=True, exist_ok=True)
    shutil.copy(BRIEF, corpus / "brief" / BRIEF.name)
    results = fetch_documents(load_registry(settings.registry_file), corpus, mirror=mirror)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise SystemExit(f"copying from the mirror failed: {failed}")
    return settings


def indexed_chunks(settings: Settings, doc_order: list[str] | None = None) -> list:
    """The index's chunks document by document (in `doc_order`, e.g. the order the indexer
    embedded them, else the manifest's), each document's chunks in position order."""
    from assistant.index.store import load_snapshot, read_manifest

    snap = load_snapshot(settings.index_dir)
    docs = read_manifest(settings.index_dir)["documents"]
    out = []
    for doc_id in doc_order or list(docs):
        if doc_id in docs:
            out.extend(snap.chunks[cid] for cid in docs[doc_id]["chunk_ids"] if cid in snap.chunks)
    return out


def embedded_only(chunks: list, settings: Settings) -> list:
    """The chunks the indexer gives vectors to (lexical-only kinds get none)."""
    lexical_only = set(getattr(settings, "lexical_only_kinds", ()) or ())
    return [c for c in chunks if c.kind not in lexical_only]


def spans_for(batch: list) -> list[list[tuple[int, int]]]:
    from assistant.index.indexer import sentence_spans

    out = []
    for c in batch:
        d = len(c.search_text) - len(c.text)
        out.append([(a + d, b + d) for a, b in sentence_spans(c)])
    return out


def paired(chunks: list, embedder: Any, model: str, every: int) -> dict[str, Any]:
    """Floor vs the indexer's per-block work on the same sample, interleaved block by block."""
    from assistant.index.vectors import VectorStore, make_client

    sample = chunks[::every]
    step = embedder.batch_size * UPSERT_STEP_BATCHES
    clocks = {name: Clock() for name in ("floor_embed", "embed_with_sentences", "chroma_upsert")}
    scratch = Path(tempfile.mkdtemp(prefix="usmca-paired-"))
    try:
        store = VectorStore(make_client(scratch), model, namespace="bench-scratch")
        for n, i in enumerate(range(0, len(sample), step)):
            block = sample[i : i + step]
            texts, spans = [c.search_text for c in block], spans_for(block)
            result: dict[str, Any] = {}

            def floor(texts: list[str] = texts) -> None:
                with clocks["floor_embed"]:
                    embedder.embed_passages(texts)

            def indexer_way(block: list = block, texts: list[str] = texts, spans: list = spans,
                            result: dict[str, Any] = result) -> None:
                with clocks["embed_with_sentences"]:
                    result["vecs"], _ = embedder.embed_with_sentences(texts, spans)

            order: list[Callable[[], None]] = [floor, indexer_way] if n % 2 == 0 else [indexer_way, floor]
            for run in order:
                run()
            with clocks["chroma_upsert"]:
                store.upsert([c.id for c in block], result["vecs"], [c.text for c in block],
                             [c.to_metadata() for c in block])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    floor_c = clocks["floor_embed"]
    out: dict[str, Any] = {"sample_chunks": len(sample), "every": every, "step": step}
    for name, c in clocks.items():
        out[f"{name}_wall_s"] = round(c.wall, 2)
        out[f"{name}_cpu_s"] = round(c.cpu, 2)
    ws, up = clocks["embed_with_sentences"], clocks["chroma_upsert"]
    out["ratio_with_sentences_to_floor_wall"] = round(ws.wall / floor_c.wall, 3)
    out["ratio_with_sentences_to_floor_cpu"] = round(ws.cpu / floor_c.cpu, 3)
    out["ratio_with_sentences_plus_upsert_to_floor_wall"] = round((ws.wall + up.wall) / floor_c.wall, 3)
    out["ratio_with_sentences_plus_upsert_to_floor_cpu"] = round((ws.cpu + up.cpu) / floor_c.cpu, 3)
    return out


def model_floor(name: str, texts: list[str], batch_size: int) -> dict[str, Any]:
    """Another embedder's own floor over the same texts (loaded and warmed up outside the clock)."""
    from assistant.index.embeddings import get_embedder

    t = time.perf_counter()
    other = get_embedder(name, batch_size)
    load_s = time.perf_counter() - t
    other.embed_passages(["warm-up text for the model"] * batch_size)
    with Clock() as c:
        other.embed_passages(texts)
    return {"model": other.name, "load_s": round(load_s, 2), "wall_s": round(c.wall, 2), "cpu_s": round(c.cpu, 2),
            "passages_per_s": round(len(texts) / c.wall, 1) if c.wall else None}


def profile_build(mirror: Path, top: int = 30) -> str:
    """A second fresh build under cProfile with a CPU-time clock; top functions by own and
    cumulative time."""
    from assistant.index.indexer import Indexer

    with tempfile.TemporaryDirectory(prefix="usmca-index-profile-") as tmp:
        settings = fresh_corpus(Path(tmp), mirror)
        prof = cProfile.Profile(time.process_time)
        prof.enable()
        Indexer(settings).run()
        prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).strip_dirs()
    out.write("== by own CPU time (tottime)\n")
    stats.sort_stats("tottime").print_stats(top)
    out.write("\n== by cumulative CPU time\n")
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def print_paired(p: dict[str, Any]) -> None:
    print(f"paired sample: {p['sample_chunks']} chunks (every {p['every']}th), blocks of {p['step']}, alternating")
    for name in ("floor_embed", "embed_with_sentences", "chroma_upsert"):
        print(f"  {name:<22} wall {p[f'{name}_wall_s']:8.1f} s   cpu {p[f'{name}_cpu_s']:8.1f} s")
    print(f"  embed_with_sentences / floor          wall {p['ratio_with_sentences_to_floor_wall']:.2f}  "
          f"cpu {p['ratio_with_sentences_to_floor_cpu']:.2f}")
    print(f"  (embed_with_sentences + upsert) / floor  wall {p['ratio_with_sentences_plus_upsert_to_floor_wall']:.2f}  "
          f"cpu {p['ratio_with_sentences_plus_upsert_to_floor_cpu']:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirror", type=Path, default=MIRROR, help="the shared mirror folder (../shared/corpus)")
    ap.add_argument("--keep", type=Path, default=None, help="build in this (empty) folder and keep it")
    ap.add_argument("--existing", type=Path, default=None,
                    help="skip the build: paired comparison on the index already in this folder")
    ap.add_argument("--paired-every", type=int, default=1, help="paired sample: every n-th chunk (0: skip)")
    ap.add_argument("--profile", action="store_true", help="also profile a second fresh build (cProfile)")
    ap.add_argument("--also", action="append", default=[], metavar="MODEL",
                    help="also time this embedder's floor over the same texts (repeatable)")
    args = ap.parse_args()
    if not args.mirror.is_dir():
        raise SystemExit(f"mirror folder {args.mirror} does not exist")

    from assistant.index.embeddings import get_embedder
    from assistant.index.indexer import Indexer

    before = machine()
    result: dict[str, Any] = {"machine_before": before}
    if args.existing is not None:
        settings = settings_for(args.existing)
        embedder = get_embedder(settings.embedding_model, settings.embedding_batch_size)
        embedder.embed_passages(["warm-up text for the model"] * settings.embedding_batch_size)
        chunks = embedded_only(indexed_chunks(settings), settings)
        result["chunks_embedded"] = len(chunks)
        result["paired"] = paired(chunks, embedder, settings.embedding_model, max(args.paired_every, 1))
        result["machine_after"] = machine()
        path = write_results("index_speed_paired", result)
        print_paired(result["paired"])
        print(f"-> {path}")
        return

    folder = args.keep or Path(tempfile.mkdtemp(prefix="usmca-index-speed-"))
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        raise SystemExit(f"--keep folder {args.keep} must be empty (the build has to start from nothing)")
    try:
        settings = fresh_corpus(folder, args.mirror)
        t = time.perf_counter()
        embedder = get_embedder(settings.embedding_model, settings.embedding_batch_size)
        model_load_s = time.perf_counter() - t
        embedder.embed_passages(["warm-up text for the model"] * settings.embedding_batch_size)
        rss_model = peak_rss_mb()

        with Clock() as build:
            report = Indexer(settings).run()
        rss_index = peak_rss_mb()
        if not report.ok:
            raise SystemExit(f"indexing failed: {report.errors}")
        embedded_order = [t.doc_id for t in report.plan.tasks if t.action in ("add", "update", "rename")]
        all_chunks = indexed_chunks(settings, embedded_order)
        chunks = embedded_only(all_chunks, settings)
        texts = [c.search_text for c in chunks]
        with Clock() as floor:
            embedder.embed_passages(texts)
        other_floors = {name: model_floor(name, texts, settings.embedding_batch_size) for name in args.also}
        with Clock() as noop_clock:
            noop = Indexer(settings).run()
        if args.paired_every > 0:
            result["paired"] = paired(chunks, embedder, settings.embedding_model, args.paired_every)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)

    n = report.chunks_total
    stages = {k: round(v, 2) for k, v in report.seconds.items()}
    by_kind: dict[str, int] = {}
    for c in all_chunks:
        by_kind[c.kind] = by_kind.get(c.kind, 0) + 1
    ratio = build.wall / floor.wall
    others = sum(f["wall_s"] for f in other_floors.values())
    projected = round((build.wall + others) / (floor.wall + others), 3) if other_floors else None
    result.update({
        "machine_after": machine(),
        "documents": len(report.indexed),
        "chunks": n,
        "chunks_by_kind": by_kind,
        "chunks_embedded": len(chunks),
        "lexical_only_kinds": list(getattr(settings, "lexical_only_kinds", ()) or ()),
        "characters_embedded": sum(len(t) for t in texts),
        "embedding_batch_size": settings.embedding_batch_size,
        "model_load_s": round(model_load_s, 2),
        "index_s": round(build.wall, 2),
        "index_cpu_s": round(build.cpu, 2),
        "index_stages_s": stages,
        "chunks_per_s": round(n / build.wall, 1),
        "floor_embed_s": round(floor.wall, 2),
        "floor_embed_cpu_s": round(floor.cpu, 2),
        "floor_chunks_per_s": round(len(texts) / floor.wall, 1) if texts else None,
        "ratio_index_to_floor": round(ratio, 3),
        "ratio_index_to_floor_cpu": round(build.cpu / floor.cpu, 3) if floor.cpu else None,
        "ratio_embed_stage_to_floor": round(report.seconds.get("embed", 0) / floor.wall, 3),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio <= TARGET_RATIO,
        "other_floors": other_floors,
        "projected_ratio_with_other_models": projected,
        "noop_reindex_s": round(noop_clock.wall, 2),
        "noop_embedded": noop.chunks_embedded,
        "peak_rss_mb_after_model_load": rss_model,
        "peak_rss_mb_after_indexing": rss_index,
        "peak_rss_mb_end": peak_rss_mb(),
    })
    if args.profile:
        text = profile_build(args.mirror)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "index_profile.txt").write_text(text, encoding="utf-8")
        result["profile"] = str(RESULTS / "index_profile.txt")
    path = write_results("index_speed", result)

    print(f"machine: {before['cpu']}, {before['cores']} cores, {before['memory_gb']} GB, "
          f"load {before['load_avg_1_5_15']} -> {result['machine_after']['load_avg_1_5_15']}")
    print(f"corpus: {result['documents']} documents, {n} chunks {by_kind}; {len(chunks)} embedded "
          f"(lexical-only kinds: {result['lexical_only_kinds']})")
    print(f"model load            {model_load_s:8.1f} s (excluded below)")
    print(f"index (fresh)         {build.wall:8.1f} s  = {n / build.wall:6.1f} chunks/s  (cpu {build.cpu:.1f} s)  "
          f"stages {stages}")
    print(f"floor: embed()        {floor.wall:8.1f} s  = {result['floor_chunks_per_s']} chunks/s  (cpu {floor.cpu:.1f} s)")
    print(f"ratio index / floor   {ratio:8.2f}   wall (cpu {result['ratio_index_to_floor_cpu']}); target <= "
          f"{TARGET_RATIO}: {'met' if result['meets_target'] else 'NOT met'}")
    for name, f in other_floors.items():
        print(f"floor: {name:<14} {f['wall_s']:8.1f} s  = {f['passages_per_s']} chunks/s  (cpu {f['cpu_s']:.1f} s, "
              f"model load {f['load_s']:.1f} s)")
    if projected is not None:
        print(f"projected (index + other floors) / (all floors) {projected:.2f}  (target <= {TARGET_RATIO})")
    print(f"no-op re-index        {noop_clock.wall:8.2f} s  ({noop.chunks_embedded} chunks embedded)")
    print(f"peak RSS              {rss_model} MB after model load, {rss_index} MB after indexing")
    if "paired" in result:
        print_paired(result["paired"])
    if "profile" in result:
        print(f"profile: {result['profile']}")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
