"""The fusion of BM25, MiniLM and the multilingual model, measured on the product's own retriever.

    .venv/bin/python bench/embedders.py [--index-dir DIR] [--mirror ../shared/corpus]

Builds (once) the full index of the brief + the mirror with the product's settings (both Chroma
collections) and runs the tuning questions through `HybridRetriever.retrieve` on it, with the
question analysed as the product does (`Assistant.analyze`: language by py3langid, the English
gloss of a Spanish question) and the fusion's weights set per configuration. Each channel's
candidates and each model's query vectors are computed once per question and reused across
configurations (they do not depend on the weights), so the grid is cheap.

Configurations: each channel alone (`mode=`); the two-channel BM25 + MiniLM retriever the product
had before the multilingual channel; the three-channel grid for English questions (rrf_k x MiniLM
weight x multilingual weight, BM25 at 1), fitted on dev + heldout (MRR@10, then hit@5) and read on
the others; for questions not in English, BM25's weight on the English gloss (the multilingual
channel on the question as typed, MiniLM off, or on), fitted on es_twins (MRR@10); and the glossary
question: the same routing without the gloss (BM25 on the question as typed, or BM25 off).

Question sets (tuning sets only, never a sealed set): dev (../shared/eval/dev.jsonl), heldout and
tuning (bench/questions/), es_twins (Spanish versions of questions of those three sets, same
evidence; their English twins are `twins_en`), spanish_pairs_tuning (Spanish questions with English
twins, `pairs_en`), and the answerable items of bench/calibration_questions.jsonl (no evidence
quotes: a hit is a passage that holds every must-mention string, a weaker proxy, reported apart).
Figures go to bench/results/embedders.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_DIR, DEV_SET, MIRROR, ROOT, full_corpus_settings  # noqa: E402
from _machine import machine, peak_rss_mb, write_results  # noqa: E402

from assistant.evaluate.metrics import EVIDENCE_DEPTH, first_hit_rank, mention_present  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402
from assistant.retrieve.analysis import QueryAnalysis, analyze  # noqa: E402
from assistant.retrieve.hybrid import BM25, MINILM, MULTILINGUAL, HybridRetriever, Query  # noqa: E402

QUESTIONS = ROOT / "bench" / "questions"
SETS = {
    "dev": DEV_SET,
    "heldout": QUESTIONS / "heldout.jsonl",
    "tuning": QUESTIONS / "tuning.jsonl",
    "es_twins": QUESTIONS / "es_twins.jsonl",
    "spanish_pairs": QUESTIONS / "spanish_pairs_tuning.jsonl",
    "calibration": ROOT / "bench" / "calibration_questions.jsonl",
    # the first sealed sets, run once at 15a121c and opened as tuning sets afterwards
    "round1": QUESTIONS / "round1.jsonl",
    "round1_pairs": QUESTIONS / "round1_spanish_pairs.jsonl",
}
FIT_ENGLISH = ("dev", "heldout")  # the three-channel weights
FIT_OTHER = ("es_twins",)  # the weights for questions not in English
GRID_K = (5, 10, 20, 60)
GRID_MINILM = (0.0, 0.25, 0.5, 1.0)
GRID_MULTILINGUAL = (0.5, 1.0, 1.5, 2.0, 3.0)
GRID_FEEDBACK = (0.0, 0.25, 0.5, 1.0)  # the pseudo-relevance-feedback run, per question language
GRID_OTHER_BM25 = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)  # with the multilingual channel at 1.5
COLUMNS = ["dev/en", "heldout/en", "tuning/en", "calibration/en", "round1/en", "fit_en", "twins_en/en", "es_twins/es",
           "pairs_en/en", "spanish_pairs/es", "heldout/es", "tuning/es", "round1/es", "round1_pairs/es"]


# ---- questions ------------------------------------------------------------------------------


@dataclass
class Item:
    set: str
    id: str
    question: str
    evidence: list[str]
    mentions: list[str]
    analyses: dict[str, QueryAnalysis] = field(default_factory=dict)  # "gloss" (the product), "typed"

    @property
    def language(self) -> str:
        return self.analyses["gloss"].language


def load_items(assistant: Assistant) -> list[Item]:
    """Every answerable, single-turn question with evidence (or must-mention strings), analysed with
    the glossary (the product) and without it (a question not in English searched as typed)."""
    rows: list[tuple[str, dict[str, Any]]] = []
    for name, path in SETS.items():
        if "sealed" in path.name:  # never, whatever the table above says
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append((name, json.loads(line)))
    by_id = {r["id"]: r for name, r in rows if name in ("dev", "heldout", "tuning")}
    items = []
    for name, r in rows:
        if not r.get("answerable", True) or r.get("history"):
            continue
        evidence, mentions = list(r.get("evidence") or []), list(r.get("must_mention") or [])
        if not evidence and not mentions:
            continue
        items.append(Item(name, r["id"], r["question"], evidence, mentions))
        if name == "es_twins" and r.get("twin") in by_id:
            items.append(Item("twins_en", r["twin"], by_id[r["twin"]]["question"], evidence, mentions))
        if name in ("spanish_pairs", "round1_pairs") and r.get("twin"):
            items.append(Item("pairs_en", r["id"], r["twin"], evidence, mentions))
    for it in items:
        product = assistant.analyze(it.question)
        it.analyses["gloss"] = product
        it.analyses["typed"] = product if product.language == "en" else analyze(
            it.question, language=product.language)
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


# ---- the product's retriever, its channels' work memoized -------------------------------------


class _Memo:
    """An embedder whose query vectors are kept for the whole run (the product's cache is bounded)."""

    def __init__(self, embedder: Any):
        self.embedder = embedder
        self.vectors: dict[str, np.ndarray] = {}

    def embed_query(self, text: str) -> np.ndarray:
        if text not in self.vectors:
            self.vectors[text] = self.embedder.embed_query(text)
        return self.vectors[text]

    def __getattr__(self, name: str) -> Any:
        """Everything else (`embed_passages` for the lines scored at query time, `name`) is the
        embedder's own."""
        return getattr(self.embedder, name)


class MemoRetriever(HybridRetriever):
    """`HybridRetriever` whose channel searches are memoized per (channel, vector, filters): the
    fusion, priors, exact lookup and figure rules run as in the product for every configuration."""

    def __init__(self, base: HybridRetriever):
        self.__dict__.update(base.__dict__)
        self.embedder = _Memo(base.embedder)
        if base.multilingual_embedder is not None:
            self.multilingual_embedder = _Memo(base.multilingual_embedder)
        self._dense_memo: dict[tuple, list[tuple[str, float]]] = {}
        self._lexical_memo: dict[tuple, list[tuple[str, float]]] = {}
        self.force_two_channels = False
        self._patched = ""

    def multilingual_ready(self, snap: Any) -> bool:
        return not self.force_two_channels and super().multilingual_ready(snap)

    def retrieve(self, q: Query):  # type: ignore[override]
        snap = self.reader.snapshot()
        if self._patched != snap.generation:
            search = snap.lexical.search

            def memo_search(text: str, n: int, mask: Any = None) -> list[tuple[str, float]]:
                key = (text, n, None if mask is None else mask.tobytes())
                if key not in self._lexical_memo:
                    self._lexical_memo[key] = search(text, n, mask)
                return self._lexical_memo[key]

            snap.lexical.search = memo_search  # type: ignore[method-assign]
            self._patched = snap.generation
        return super().retrieve(q)

    def _dense(self, store: Any, vec: np.ndarray, q: Query, snap: Any, kinds: set[str] | None):  # type: ignore[override]
        key = (store.name, vec.tobytes(), tuple(sorted(kinds or ())), tuple(sorted(q.documents or ())))
        if key not in self._dense_memo:
            self._dense_memo[key] = super()._dense(store, vec, q, snap, kinds)
        return self._dense_memo[key]


@dataclass
class Config:
    label: str
    mode: str = "hybrid"
    rrf_k: int = 5
    english: dict[str, float] = field(default_factory=dict)
    other: dict[str, float] = field(default_factory=dict)
    two_channels: bool = False
    other_analysis: str = "gloss"  # gloss (the product) | typed (no glossary)
    feedback: tuple[float, float] = (0.0, 0.0)  # feedback run's weight: other languages, English


def run(r: MemoRetriever, items: list[Item], cfg: Config) -> dict[str, int | None]:
    r.rrf_k = cfg.rrf_k
    r.english_weights = cfg.english
    r.other_language_weights = cfg.other
    r.force_two_channels = cfg.two_channels
    r.prf_weights = {False: cfg.feedback[0], True: cfg.feedback[1]}
    out: dict[str, int | None] = {}
    for it in items:
        a = it.analyses[cfg.other_analysis if it.language != "en" else "gloss"]
        ret = r.retrieve(Query.of(a, EVIDENCE_DEPTH, mode=cfg.mode))
        out[f"{it.set}/{it.id}"] = first_rank([sc.chunk.text for sc in ret.chunks], it)
    return out


def summarize(items: list[Item], ranks: dict[str, int | None]) -> dict[str, Any]:
    groups: dict[str, list[int | None]] = {}
    for it in items:
        rank = ranks[f"{it.set}/{it.id}"]
        lang = "en" if it.language == "en" else "es"
        groups.setdefault(f"{it.set}/{lang}", []).append(rank)
        if it.set in FIT_ENGLISH and lang == "en":
            groups.setdefault("fit_en", []).append(rank)
        if it.set in FIT_OTHER and lang != "en":
            groups.setdefault("fit_other", []).append(rank)
    return {g: scores(rs) for g, rs in groups.items()}


def table(rows: dict[str, dict[str, Any]], metric: str) -> str:
    cols = [c for c in COLUMNS if any(c in s for s in rows.values())]
    lines = ["| configuration | " + " | ".join(cols) + " |", "| --- |" + " ---: |" * len(cols)]
    for label, summ in rows.items():
        cells = ["-" if not summ.get(c) or summ[c][metric] is None else f"{summ[c][metric]:.3f}" for c in cols]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def best(grid: list[dict[str, Any]], group: str) -> dict[str, Any]:
    return max(grid, key=lambda g: (g["summary"][group]["mrr_at_10"], g["summary"][group]["hit_at_5"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_DIR, help="folder holding (or to hold) the index")
    args = ap.parse_args()

    before = machine()
    settings = full_corpus_settings(args.index_dir, mirror=args.mirror)
    assistant = Assistant(settings)
    retriever = MemoRetriever(assistant.retriever)
    snap = retriever.reader.snapshot()
    if not retriever.multilingual_ready(snap):
        raise SystemExit(f"the index in {settings.index_dir} has no multilingual collection: run "
                         "`usmca-assistant index` on it with ASSISTANT_MULTILINGUAL_MODEL set")
    t0 = time.perf_counter()
    items = load_items(assistant)
    print(f"{len(items)} questions analysed in {time.perf_counter() - t0:.1f} s; index {len(snap.chunks)} passages")

    s = settings
    product_en = {BM25: s.lexical_weight, MINILM: s.dense_weight, MULTILINGUAL: s.multilingual_weight}
    product_other = {BM25: s.other_language_lexical_weight, MULTILINGUAL: s.other_language_multilingual_weight}
    base = Config("", rrf_k=s.rrf_k, english=product_en, other=product_other)
    configs = [
        replace(base, label="BM25", mode=BM25),
        replace(base, label="MiniLM", mode=MINILM),
        replace(base, label="multilingual", mode=MULTILINGUAL),
        replace(base, label="multilingual, no gloss", mode=MULTILINGUAL, other_analysis="typed"),
        replace(base, label="BM25 + MiniLM (before: two channels, gloss)", two_channels=True, rrf_k=5),
        replace(base, label="product (settings)"),
        replace(base, label="product, MiniLM on for other languages (gloss)",
                other={**product_other, MINILM: s.dense_weight}),
        replace(base, label="product without glossary (BM25 on the typed question)", other_analysis="typed"),
        replace(base, label="product without glossary, BM25 off for other languages", other_analysis="typed",
                other={MULTILINGUAL: s.other_language_multilingual_weight}),
    ]
    results: dict[str, Any] = {}
    ranks: dict[str, dict[str, int | None]] = {}
    t0 = time.perf_counter()
    for cfg in configs:
        ranks[cfg.label] = run(retriever, items, cfg)
        results[cfg.label] = summarize(items, ranks[cfg.label])
    print(f"{len(configs)} configurations in {time.perf_counter() - t0:.1f} s")

    # the three channels for English questions: fitted on dev + heldout
    grid_en: list[dict[str, Any]] = []
    english_items = [it for it in items if it.language == "en"]
    for k in GRID_K:
        for wm in GRID_MINILM:
            for we in GRID_MULTILINGUAL:
                cfg = Config(f"k={k} minilm={wm} multilingual={we}", rrf_k=k,
                             english={BM25: 1.0, MINILM: wm, MULTILINGUAL: we}, other=product_other)
                grid_en.append({"rrf_k": k, "minilm": wm, "multilingual": we,
                                "summary": summarize(english_items, run(retriever, english_items, cfg))})
    fit_en = best(grid_en, "fit_en")
    label_en = f"fitted en: k={fit_en['rrf_k']} bm25=1 minilm={fit_en['minilm']} multilingual={fit_en['multilingual']}"
    print(f"{label_en} (fit MRR@10 {fit_en['summary']['fit_en']['mrr_at_10']})")

    # pseudo-relevance feedback: BM25 on the question plus the first passages' distinctive words
    grid_prf: list[dict[str, Any]] = []
    for other_w in GRID_FEEDBACK:
        for english_w in GRID_FEEDBACK:
            cfg = Config(f"feedback other={other_w} english={english_w}", rrf_k=s.rrf_k, english=product_en,
                         other=product_other, feedback=(other_w, english_w))
            ranks[cfg.label] = run(retriever, items, cfg)
            grid_prf.append({"other": other_w, "english": english_w, "summary": summarize(items, ranks[cfg.label])})
    print("\n### feedback grid (MRR@10 / hit@5)\n")
    for g in grid_prf:
        cells = "  ".join(f"{c} {g['summary'][c]['mrr_at_10']:.3f}/{g['summary'][c]['hit_at_5']:.3f}"
                          for c in COLUMNS if c in g["summary"] and g["summary"][c]["n"])
        print(f"other={g['other']:<5} english={g['english']:<5} {cells}")

    # questions not in English: BM25's weight on the gloss, fitted on es_twins
    spanish_items = [it for it in items if it.language != "en"]
    grid_other: list[dict[str, Any]] = []
    for analysis in ("gloss", "typed"):
        for wl in GRID_OTHER_BM25:
            for wm in (0.0, 0.5):
                other = {BM25: wl, MULTILINGUAL: 1.5, **({MINILM: wm} if wm else {})}
                cfg = Config(f"other: bm25={wl} minilm={wm} multilingual=1.5 [{analysis}]", rrf_k=fit_en["rrf_k"],
                             english=product_en, other=other, other_analysis=analysis)
                grid_other.append({"analysis": analysis, "bm25": wl, "minilm": wm, "multilingual": 1.5,
                                   "summary": summarize(spanish_items, run(retriever, spanish_items, cfg))})
    fit_other = best([g for g in grid_other if g["analysis"] == "gloss"], "fit_other")
    fit_typed = best([g for g in grid_other if g["analysis"] == "typed"], "fit_other")
    for g, name in ((fit_other, "with glossary"), (fit_typed, "without glossary")):
        print(f"fitted other languages {name}: bm25={g['bm25']} minilm={g['minilm']} multilingual=1.5 "
              f"(es_twins MRR@10 {g['summary']['fit_other']['mrr_at_10']})")

    fitted = Config(label_en, rrf_k=fit_en["rrf_k"],
                    english={BM25: 1.0, MINILM: fit_en["minilm"], MULTILINGUAL: fit_en["multilingual"]},
                    other={BM25: fit_other["bm25"], MULTILINGUAL: 1.5, **({MINILM: fit_other["minilm"]}
                                                                             if fit_other["minilm"] else {})})
    for cfg in (fitted, replace(fitted, label=f"{label_en}; no glossary", other_analysis="typed",
                                other={BM25: fit_typed["bm25"], MULTILINGUAL: 1.5,
                                       **({MINILM: fit_typed["minilm"]} if fit_typed["minilm"] else {})})):
        ranks[cfg.label] = run(retriever, items, cfg)
        results[cfg.label] = summarize(items, ranks[cfg.label])

    out = {
        "machine_before": before,
        "machine_after": machine(),
        "peak_rss_mb": peak_rss_mb(),
        "index_dir": str(settings.index_dir),
        "items": {f"{name}/{lang}": sum(1 for it in items if it.set == name and (it.language == "en") == (lang == "en"))
                  for name in [*SETS, "twins_en", "pairs_en"] for lang in ("en", "es")},
        "settings": {k: getattr(s, k) for k in ("rrf_k", "lexical_weight", "dense_weight", "multilingual_weight",
                                                 "other_language_lexical_weight", "other_language_multilingual_weight",
                                                 "dense_weight_without_multilingual", "dense_candidates",
                                                 "lexical_candidates", "brief_prior", "note_prior")},
        "fit_sets": {"english": list(FIT_ENGLISH), "other_languages": list(FIT_OTHER)},
        "fitted_english": {k: fit_en[k] for k in ("rrf_k", "minilm", "multilingual")},
        "fitted_other": {k: fit_other[k] for k in ("bm25", "minilm", "multilingual")},
        "fitted_other_without_glossary": {k: fit_typed[k] for k in ("bm25", "minilm", "multilingual")},
        "results": results,
        "grid_english": grid_en,
        "grid_other": grid_other,
        "grid_feedback": grid_prf,
        "ranks": ranks,
    }
    path = write_results("embedders", out)
    for metric in ("hit_at_1", "hit_at_5", "mrr_at_10"):
        print(f"\n### {metric}\n")
        print(table(results, metric))
    print("\nquestions per set and language:", {k: v for k, v in out["items"].items() if v})
    print(f"-> {path}")


if __name__ == "__main__":
    main()
