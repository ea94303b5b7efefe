"""Mechanical check of a question file (format: shared/eval/README.md), by default the held-out set.

    .venv/bin/python bench/questions/check_questions.py [FILE] [--dev DEV.jsonl] [--mirror DIR]

Why: a held-out set is only worth tuning on if (1) the product's own loader reads every line, (2)
every evidence quote really is in the text the index holds, so a retrieval miss is the product's
fault and never the file's, and (3) it shares nothing with the dev set, so tuning on one cannot
leak into the other. Documents are read with the project's parsers (`parse_file` + registry), and
quotes are matched the way the metrics match them (`metrics.contains_quote`: whitespace-collapsed,
case-insensitive substring after footnote marks, or the README's 80 % token rule).

Where a quote is found, best first: `chunk` (substring of one chunk), `across chunks` (straddles a
border: substring of the joined chunk texts), `outside chunks` (only in document text no chunk
holds: the brief's footnotes, a page title), `chunk~80%` (no exact match anywhere, but the token
rule holds on one chunk; reported as a warning, since the quote is then not verbatim). Every
answerable question needs at least one quote at chunk level, or no retrieval metric could ever
credit it.
Exit status 1 when any check fails.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from assistant.evaluate.metrics import TOKEN_OVERLAP, contains_quote, mention_present
from assistant.evaluate.questions import KNOWN_KINDS, load_questions
from assistant.ingest.base import ParsedDocument
from assistant.ingest.parse import parse_file
from assistant.ingest.registry import Registry, load_registry, mirror_path
from assistant.textutil import content_words, normalize_for_match, words

ROOT = Path(__file__).resolve().parents[2]
HELDOUT = Path(__file__).resolve().parent / "heldout.jsonl"
REGISTRY = ROOT / "corpus" / "registry.json"
MIRROR = ROOT.parent / "shared" / "corpus"
DEV_SET = ROOT.parent / "shared" / "eval" / "dev.jsonl"
BRIEF_ID = "quincy-brief-80-us-mexico-special-relationship.md"

MIN_WORDS, MAX_WORDS = 6, 30  # evidence quote length (README)
MAX_QUOTES = MAX_MENTIONS = 3
REQUIRED = (
    "id",
    "question",
    "kind",
    "answerable",
    "answer",
    "must_mention",
    "evidence",
    "footnotes",
    "section",
)
SIMILAR_QUESTION = 0.5  # content-word Jaccard with a dev question that counts as a paraphrase
LOW_OVERLAP = 0.3  # a question "shares few words" with its evidence below this share
# Spanish function words; a question with an opening "¿" or two of these is counted as Spanish.
_SPANISH = re.compile(
    r"\b(?:qué|cuál|cuánt[oa]s?|según|informe|del|los|las|para|aplica|debe)\b", re.IGNORECASE
)

_SUP_TAG = re.compile(r"<sup>\s*\d+\s*</sup>")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!$])")
# *emphasis*: an asterisk hugging a word on the inside; a lone "*" (a tariff rate) is left alone.
_MD_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\w)([^*\n]{1,200}?)(?<=[^\s*])\*(?![\w*])")


def strip_markdown(text: str) -> str:
    """Emphasis markers, backslash escapes and <sup> footnote tags, as the text reads rendered."""
    text = _SUP_TAG.sub("", text)
    text = text.replace("**", "").replace("__", "")
    return _MD_EMPHASIS.sub(r"\1", _MD_ESCAPE.sub(r"\1", text))


def match_form(text: str) -> str:
    return normalize_for_match(strip_markdown(text))


@dataclass
class DocText:
    """One parsed document: chunk texts in the form quotes are matched against."""

    doc_id: str
    chunks: list[str]  # chunk texts, markdown stripped (for the 80 % token rule)
    forms: list[str]  # the same in match form (for substring tests)
    labels: list[str]
    joined: str  # match form of all chunk texts joined, for quotes straddling a border
    full: str  # match form of the whole document text (footnotes included)


def load_documents(doc_ids: set[str], registry: Registry, mirror: Path) -> dict[str, DocText]:
    docs: dict[str, DocText] = {}
    for doc_id in sorted(doc_ids):
        info = registry.by_id(doc_id)
        if info is None:
            continue
        candidates = [ROOT / "corpus" / info.path] if info.path else []
        candidates.append(mirror / mirror_path(info))
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            continue
        info = registry.match_path(path) or info
        parsed: ParsedDocument = parse_file(path, info, max_bytes=10**9, max_pages=10**6, max_chunks=10**6)
        texts = [strip_markdown(c.text) for c in parsed.chunks]
        docs[doc_id] = DocText(
            doc_id=doc_id,
            chunks=texts,
            forms=[match_form(t) for t in texts],
            labels=[c.label for c in parsed.chunks],
            joined=match_form(" ".join(texts)),
            full=match_form(parsed.text),
        )
    return docs


def locate(quote: str, doc: DocText) -> tuple[str, str] | None:
    """(where, chunk label) of the best place `quote` is found in `doc`, or None."""
    q = match_form(quote)
    for form, label in zip(doc.forms, doc.labels, strict=True):
        if q in form:
            return "chunk", label
    if q in doc.joined:
        return "across chunks", ""
    if q in doc.full:
        return "outside chunks", ""
    for text, label in zip(doc.chunks, doc.labels, strict=True):
        if contains_quote(text, quote):
            return "chunk~80%", label
    return None


def token_overlap(a: str, b: str) -> float:
    """Share of the shorter text's word tokens (with repetition) that the other one holds."""
    ta, tb = Counter(words(a)), Counter(words(b))
    small = min(sum(ta.values()), sum(tb.values()))
    return sum((ta & tb).values()) / small if small else 0.0


def jaccard(a: str, b: str) -> float:
    sa, sb = set(content_words(a)), set(content_words(b))
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def is_spanish(question: str) -> bool:
    return "¿" in question or len(set(_SPANISH.findall(question.lower()))) >= 2


def check_raw(path: Path, known_docs: set[str]) -> tuple[list[dict], list[str]]:
    """Field-level checks the loader is lenient about (it defaults missing fields)."""
    rows, errors = [], []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # the loader reports it
        rows.append(row)
        qid = row.get("id", f"line {lineno}")
        missing = [k for k in REQUIRED if k not in row]
        if missing:
            errors.append(f"{qid}: missing fields {missing}")
        if row.get("kind") not in KNOWN_KINDS:
            errors.append(f"{qid}: unknown kind {row.get('kind')!r}")
        evidence, mentions = row.get("evidence") or [], row.get("must_mention") or []
        if row.get("answerable") is False or row.get("kind") == "unanswerable":
            if row.get("answerable") is not False or row.get("kind") != "unanswerable":
                errors.append(f"{qid}: kind 'unanswerable' and answerable=false must go together")
            if evidence or mentions or row.get("footnotes"):
                errors.append(f"{qid}: an unanswerable question has no evidence, must_mention or footnotes")
            continue
        if not 1 <= len(evidence) <= MAX_QUOTES:
            errors.append(f"{qid}: {len(evidence)} evidence quotes (want 1-{MAX_QUOTES})")
        if not 1 <= len(mentions) <= MAX_MENTIONS:
            errors.append(f"{qid}: {len(mentions)} must_mention strings (want 1-{MAX_MENTIONS})")
        for quote in evidence:
            n = len(words(quote))
            if not MIN_WORDS <= n <= MAX_WORDS:
                errors.append(f"{qid}: quote has {n} words (want {MIN_WORDS}-{MAX_WORDS}): {quote[:60]!r}")
        for m in mentions:
            if not mention_present(row.get("answer", ""), m):
                errors.append(f"{qid}: must_mention {m!r} is not in its own reference answer")
        for doc_id in row.get("documents") or []:
            if doc_id not in known_docs:
                errors.append(f"{qid}: unknown document {doc_id!r}")
    return rows, errors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?", type=Path, default=HELDOUT)
    ap.add_argument("--dev", type=Path, default=DEV_SET, help="question file that must not overlap")
    ap.add_argument("--mirror", type=Path, default=MIRROR, help="shared corpus folder")
    ap.add_argument("--verbose", action="store_true", help="print where each quote was found")
    args = ap.parse_args()

    errors: list[str] = []
    questions, line_errors = load_questions(args.file)
    errors += [f"line {e.line}: {e.reason}" for e in line_errors]
    registry = load_registry(REGISTRY)
    rows, raw_errors = check_raw(args.file, {d.id for d in registry.documents})
    errors += raw_errors
    ids = [r.get("id") for r in rows]
    errors += [f"duplicate id {i!r}" for i, n in Counter(ids).items() if n > 1]

    wanted = {BRIEF_ID} | {d for q in questions for d in q.documents}
    docs = load_documents(wanted, registry, args.mirror)
    errors += [f"document {d!r} could not be read" for d in sorted(wanted - docs.keys())]

    dev_questions, _ = load_questions(args.dev)
    dev_quotes = [(dq.id, quote) for dq in dev_questions for quote in dq.evidence]

    where_counts: Counter[str] = Counter()
    warnings: list[str] = []
    low_overlap = 0
    mentions_in_evidence = mentions_total = 0
    for q in questions:
        for dq in dev_questions:
            if jaccard(q.question, dq.question) >= SIMILAR_QUESTION:
                warnings.append(f"{q.id}: question close to dev {dq.id}: {dq.question!r}")
        if not q.answerable:
            continue
        targets = list(q.documents) or [BRIEF_ID]
        chunk_level = False
        for quote in q.evidence:
            found = [(d, hit) for d in targets if d in docs and (hit := locate(quote, docs[d]))]
            if not found:
                elsewhere = [d for d in docs if d not in targets and locate(quote, docs[d])]
                hint = f" (found in {elsewhere})" if elsewhere else ""
                errors.append(f"{q.id}: quote not found in {targets}{hint}: {quote!r}")
                where_counts["NOT FOUND"] += 1
                continue
            doc_id, (where, label) = found[0]
            where_counts[where] += 1
            if args.verbose:
                print(f"{q.id} [{where}] {doc_id} {label}: {quote[:70]!r}")
            chunk_level = chunk_level or where.startswith("chunk")
            if where == "chunk~80%":
                warnings.append(
                    f"{q.id}: quote is not verbatim (matched only by the 80 % token rule): {quote!r}"
                )
            for dev_id, dev_quote in dev_quotes:
                a, b = match_form(quote), match_form(dev_quote)
                if a in b or b in a or token_overlap(quote, dev_quote) >= TOKEN_OVERLAP:
                    errors.append(f"{q.id}: quote overlaps dev {dev_id} evidence: {quote!r}")
        if not chunk_level:
            errors.append(f"{q.id}: no evidence quote is inside a chunk, so retrieval can never hit it")
        mentions_total += len(q.must_mention)
        mentions_in_evidence += sum(mention_present(" ".join(q.evidence), m) for m in q.must_mention)
        q_words = set(content_words(q.question))
        e_words = set(content_words(" ".join(q.evidence)))
        if q_words and len(q_words & e_words) / len(q_words) < LOW_OVERLAP:
            low_overlap += 1

    print_report(args.file, questions, where_counts, low_overlap)
    print(
        f"must_mention strings that appear in their own evidence quotes: {mentions_in_evidence}/{mentions_total}"
        " (the rest are citations such as a section number, or paraphrases)\n"
    )
    for w in warnings:
        print(f"WARNING {w}")
    for e in errors:
        print(f"ERROR {e}")
    print(f"\n{len(errors)} error(s), {len(warnings)} warning(s)")
    return 1 if errors else 0


def print_report(path: Path, questions, where_counts: Counter, low_overlap: int) -> None:
    by_kind = Counter(q.kind for q in questions)
    by_doc: Counter[str] = Counter()
    for q in questions:
        for d in q.documents or ([BRIEF_ID] if q.answerable else ["(none: unanswerable)"]):
            by_doc[d] += 1
    spanish = sum(is_spanish(q.question) for q in questions)
    sections: dict[str, int] = defaultdict(int)
    for q in questions:
        if q.answerable and not q.documents:
            sections[q.section] += 1
    answerable = [q for q in questions if q.answerable]
    print(
        f"{path}: {len(questions)} questions, {len(answerable)} answerable, "
        f"{len(questions) - len(answerable)} unanswerable, {spanish} in Spanish"
    )
    print("\nper kind:")
    for kind, n in sorted(by_kind.items()):
        print(f"  {kind:<15} {n}")
    print("\nper document (a question may name several):")
    for doc, n in by_doc.most_common():
        print(f"  {n:>3}  {doc}")
    print("\nbrief-only questions per section:")
    for section, n in sorted(sections.items(), key=lambda kv: -kv[1]):
        print(f"  {n:>3}  {section}")
    print("\nevidence quotes by where they were found:")
    for where, n in where_counts.most_common():
        print(f"  {where:<14} {n}")
    share = low_overlap / len(answerable) if answerable else 0.0
    print(
        f"\nanswerable questions sharing < {LOW_OVERLAP:.0%} of their content words with the evidence: "
        f"{low_overlap}/{len(answerable)} ({share:.0%})\n"
    )


if __name__ == "__main__":
    sys.exit(main())
