"""Sentence segmenters compared on the corpus's own hard cases, and their speed on the whole corpus.

For each library installed in the running interpreter (pysbd, syntok, blingfire, sentencex,
nupunkt, spaCy's rule-based sentencizer) and for the hand-written regular expression the project
used before, prints:

- raw: gold cases segmented exactly right by the library alone (the case's text given whole);
- layer: the same through the project's layer (`assistant.textutil.split_sentences_with`: lines are
  units, abbreviations the library lacks, footnote marks and `[n]` markers kept with their sentence);
- speed: sentences per second through the layer over every passage the indexer splits into
  sentences (the brief and the shared mirror, parsed by the project's parsers; tariff lines and
  tables are quoted whole and not split), best of 3 runs.

The gold cases are tests/data/segmentation_cases.jsonl (text + expected sentences). Only the chosen
library is a project dependency; to measure the others install them in a scratch venv with this
checkout on the path, e.g. `python -m pip install pysbd syntok blingfire numpy sentencex nupunkt
spacy`, then `PYTHONPATH=. python bench/segmentation.py --passages FILE` with a FILE written by
`.venv/bin/python bench/segmentation.py --save-passages FILE` (parsing needs the project's dependencies).

    .venv/bin/python bench/segmentation.py [--no-corpus] [--show-failures NAME] [--save-passages FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.textutil import split_sentences_with  # noqa: E402

CASES = ROOT / "tests" / "data" / "segmentation_cases.jsonl"
RESULTS = ROOT / "bench" / "results" / "segmentation.json"

Spans = list[tuple[int, int]]


# --- the regular expression used before (assistant/textutil.py until the segmenter change) ----------
_SENT_END = re.compile(r"[.!?][\"'”’)\]]*([⁰¹²³⁴⁵⁶⁷⁸⁹]*)(?=\s+[\"'“‘(\[]?[A-Z0-9¿¡•\-])")
_ABBREV = re.compile(
    r"\b(?:U\.S|U\.K|E\.U|D\.C|U\.S\.C|Inc|Corp|Co|Ltd|No|Nos|Art|Arts|Sec|Secs|Mr|Mrs|Ms|Dr|St|Jan|Feb|Mar|"
    r"Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|vs|etc|e\.g|i\.e|cl|para|paras|p|pp|Fig|al|Jr|Sr|Pub|L|Stat|"
    r"F\.R|FR|H\.R|S|Gov|Dept|approx|ch)\.$"
)


def regex_before(text: str) -> Spans:
    spans: Spans = []
    for para in re.finditer(r"[^\n]+(?:\n(?!\s*\n)(?!\s*[-•*]\s)[^\n]+)*", text):
        p_start, chunk, cur = para.start(), para.group(0), 0
        for m in _SENT_END.finditer(chunk):
            candidate = chunk[cur : m.start() + 1]
            last_word = candidate.split()[-1] if candidate.split() else ""
            if not m.group(1) and (_ABBREV.search(last_word) or re.fullmatch(r"\(?[A-Z]\.", last_word)):
                continue
            if candidate.strip():
                spans.append(_trim(text, p_start + cur, p_start + m.end()))
            cur = m.end()
        if chunk[cur:].strip():
            spans.append(_trim(text, p_start + cur, p_start + len(chunk)))
    return [s for s in spans if s[1] > s[0]]


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


# --- the libraries: each a line -> character spans function, or None when not installed -----------
def _located(text: str, pieces: list[str]) -> Spans:
    """Spans of segment strings returned in order (for libraries that return text, not offsets)."""
    out, pos = [], 0
    for p in pieces:
        p = p.strip()
        if not p:
            continue
        j = text.find(p, pos)
        if j < 0:
            raise ValueError(f"segment not found in its text: {p[:40]!r}")
        out.append((j, j + len(p)))
        pos = j + len(p)
    return out


def _pysbd() -> Callable[[str], Spans]:
    import pysbd

    seg = pysbd.Segmenter(language="en", clean=False)
    return lambda t: _located(t, seg.segment(t))


def _syntok() -> Callable[[str], Spans]:
    import syntok.segmenter as sy

    def run(t: str) -> Spans:
        return [(s[0].offset, s[-1].offset + len(s[-1].value)) for para in sy.analyze(t) for s in para]

    return run


def _blingfire() -> Callable[[str], Spans]:
    import blingfire

    return lambda t: list(blingfire.text_to_sentences_and_offsets(t)[1])


def _sentencex() -> Callable[[str], Spans]:
    import sentencex

    return lambda t: [(b["start_index"], b["end_index"]) for b in sentencex.get_sentence_boundaries("en", t)]


def _nupunkt() -> Callable[[str], Spans]:
    import nupunkt

    return lambda t: list(nupunkt.sent_spans(t))


def _spacy() -> Callable[[str], Spans]:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return lambda t: [(s.start_char, s.end_char) for s in nlp(t).sents]


LIBRARIES: dict[str, tuple[str, Callable[[], Callable[[str], Spans]]]] = {
    "pysbd": ("pysbd", _pysbd),
    "syntok": ("syntok", _syntok),
    "blingfire": ("blingfire", _blingfire),
    "sentencex": ("sentencex", _sentencex),
    "nupunkt": ("nupunkt", _nupunkt),
    "spacy-sentencizer": ("spacy", _spacy),
}


def licence_and_version(dist: str) -> tuple[str, str]:
    from importlib import metadata

    try:
        meta = metadata.metadata(dist)
    except metadata.PackageNotFoundError:
        return "", ""
    lic = meta.get("License-Expression") or ""
    if not lic:
        classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License")]
        lic = ", ".join(classifiers) or (meta.get("License") or "").splitlines()[0][:40]
    return lic, meta.get("Version") or ""


def load_cases() -> list[dict]:
    return [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(split: Callable[[str], Spans], cases: list[dict]) -> tuple[int, list[str]]:
    ok, failed = 0, []
    for c in cases:
        got = [c["text"][a:b].strip() for a, b in split(c["text"])]
        if [g for g in got if g] == c["sentences"]:
            ok += 1
        else:
            failed.append(c["id"])
    return ok, failed


def corpus_passages() -> tuple[list[str], list[str]]:
    """(every passage the indexer splits into sentences, every passage): the brief and the shared
    mirror, parsed by the project's parsers."""
    from assistant.index.indexer import document_info
    from assistant.ingest.parse import parse_file
    from assistant.ingest.registry import load_registry

    mirror = ROOT.parent / "shared" / "corpus"
    brief = ROOT / "corpus" / "brief"
    registry = load_registry(ROOT / "corpus" / "registry.json")
    files = sorted(brief.glob("*.md")) + sorted(
        p for p in mirror.rglob("*") if p.suffix in (".md", ".html") and p.name != "MANIFEST.md"
    )
    seen, texts, everything = set(), [], []
    for f in files:
        info = document_info(f, [mirror, ROOT / "corpus"], registry)
        if info.id in seen:
            continue
        seen.add(info.id)
        parsed = parse_file(f, info, max_bytes=1 << 30, max_pages=10_000, max_chunks=1_000_000)
        texts += [c.text for c in parsed.chunks if not (c.meta.get("table") or c.kind == "tariff")]
        everything += [c.text for c in parsed.chunks]
    return texts, everything


def speed(split: Callable[[str], Spans], texts: list[str], runs: int = 3) -> tuple[float, int, float]:
    best, n = float("inf"), 0
    for _ in range(runs):
        t0 = time.perf_counter()
        n = sum(len(split(t)) for t in texts)
        best = min(best, time.perf_counter() - t0)
    return n / best, n, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-corpus", action="store_true", help="gold cases only (no parsing, no speed)")
    ap.add_argument("--show-failures", metavar="NAME", help="print the failed cases of one segmenter")
    ap.add_argument("--abbreviations", action="store_true",
                    help="which of the corpus's abbreviations the chosen library alone splits after")
    ap.add_argument("--save-passages", metavar="FILE", help="write the parsed corpus passages to FILE (JSON)")
    ap.add_argument("--passages", metavar="FILE", help="read the corpus passages from FILE instead of parsing")
    args = ap.parse_args()

    if args.abbreviations:
        probe_abbreviations()
        return
    cases = load_cases()
    everything: list[str] = []
    if args.passages:
        texts = json.loads(Path(args.passages).read_text(encoding="utf-8"))
    elif args.no_corpus:
        texts = []
    else:
        texts, everything = corpus_passages()
    if args.save_passages:
        Path(args.save_passages).write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    if texts:
        print(f"corpus: {len(texts)} passages, {sum(map(len, texts)):,} characters")
        if everything:
            _check_provenance(cases, everything)
    print(f"gold: {len(cases)} cases from {CASES.relative_to(ROOT)}\n")

    from assistant.textutil import split_sentences

    rows = []
    segmenters: dict[str, tuple[Callable[[str], Spans], Callable[[str], Spans], str, str]] = {
        "regex (before)": (regex_before, regex_before, "project code", ""),
        "chosen (split_sentences)": (split_sentences, split_sentences, "", ""),
    }
    for name, (dist, make) in LIBRARIES.items():
        try:
            line = make()
        except ImportError:
            print(f"{name}: not installed")
            continue
        lic, version = licence_and_version(dist)
        segmenters[name] = (line, lambda t, f=line: split_sentences_with(t, f), lic, version)

    header = f"{'segmenter':26} {'raw':>8} {'layer':>8} {'sent/s':>9} {'ms total':>9}  licence, version"
    print(header)
    print("-" * len(header))
    for name, (raw, layered, lic, version) in segmenters.items():
        raw_ok, _ = score(raw, cases)
        ok, failed = score(layered, cases)
        rate, n, secs = speed(layered, texts) if texts else (0.0, 0, 0.0)
        rows.append({"segmenter": name, "raw": raw_ok, "layer": ok, "cases": len(cases), "failed": failed,
                     "sentences_per_s": round(rate), "sentences": n, "seconds": round(secs, 3),
                     "licence": lic, "version": version})
        raw_s = "-" if raw is layered else f"{raw_ok}/{len(cases)}"
        print(f"{name:26} {raw_s:>8} {ok:>4}/{len(cases):<3} {rate:>9,.0f} {secs * 1000:>9,.0f}  {lic} {version}")
        if args.show_failures == name:
            _show(layered, cases, failed)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"\nwritten {RESULTS.relative_to(ROOT)}")


# Abbreviations found in the corpus and in answer labels ("USMCA Ch. 2, footnote 3", "Proclamation
# 10925, cl. 4"), plus legal numbering forms an answer may use; each probed before a number and
# before a capitalised word.
ABBREVIATIONS = (
    "U.S.", "U.S.C.", "U.S.A.", "D.C.", "E.U.", "EE. UU.", "e.g.", "i.e.", "et al.", "et seq.", "a.m.",
    "p.m.", "Jan.", "Feb.", "Mar.", "Apr.", "Jun.", "Jul.", "Aug.", "Sep.", "Sept.", "Oct.", "Nov.", "Dec.",
    "Mr.", "Dr.", "St.", "Inc.", "Co.", "Corp.", "Ltd.", "Jr.", "Gov.", "Dept.", "approx.", "vs.", "Stat.",
    "Pub. L.", "incl.", "Trans.", "Cap.", "c.", "no.", "No.", "Nos.", "Art.", "Arts.", "Ch.", "Chs.",
    "Chap.", "Sec.", "Secs.", "Subsec.", "cl.", "Cl.", "para.", "paras.", "subpara.", "p.", "pp.", "Pt.",
    "Sch.", "App.", "Vol.", "Fig.", "Procl.", "Ed.", "Rev.",
)


def probe_abbreviations() -> None:
    from assistant.textutil import _segment_line

    lacking = []
    for abbr in ABBREVIATIONS:
        for text in (f"It is set out in USMCA {abbr} 34.6 and the review follows.",
                     f"The report was filed under {abbr} Mexico City rules."):
            if len(_segment_line(text)) > 1:
                lacking.append(abbr)
                break
    print(f"probed {len(ABBREVIATIONS)} abbreviations; the library splits after: {' '.join(lacking) or 'none'}")


def _check_provenance(cases: list[dict], texts: list[str]) -> None:
    """Every case taken from a document (source = a document id) is verbatim in its parsed passages."""
    joined = "\n".join(texts)
    from_documents = [c for c in cases if c["source"] not in ("answer", "question")]
    missing = [c["id"] for c in from_documents if c["text"] not in joined]
    print(f"gold: {len(from_documents)} cases taken verbatim from the parsed corpus; not found: {missing or 'none'}")


def _show(split: Callable[[str], Spans], cases: list[dict], failed: list[str]) -> None:
    for c in cases:
        if c["id"] in failed:
            got = [c["text"][a:b].strip() for a, b in split(c["text"])]
            print(f"\n  {c['id']} ({c['hard']})")
            for g in got:
                print(f"    got  | {g[:150]}")
            for s in c["sentences"]:
                print(f"    want | {s[:150]}")


if __name__ == "__main__":
    main()
