"""Evaluation metrics (definitions in docs/evaluation.md), as pure functions.

`score_question` turns one question and the product's `Answer` into a `QuestionRecord`;
`summarize` aggregates records into exactly the README's `summary.json` keys. Nothing here does
I/O or timing, so the arithmetic can be tested on hand-made answers.

Choices the README leaves open, made here once:
- Retrieval metrics (hit@k, evidence recall, MRR) and citation precision need evidence quotes: an
  answerable question without evidence is skipped by them. The ranking is the order of
  `Answer.retrieved`; only its first 10 chunks count for the "@10" metrics.
- A question whose `answer_fn` raised counts as a failure wherever it is eligible: no hit, recall 0,
  reciprocal rank 0, must-mention 0, and never a (correct or false) abstention. Metrics whose
  denominator is the answer's own citations or sentences skip it, and so does latency.
- `cited_sentence_rate` skips abstentions: an abstention's explanation has nothing to cite (a false
  abstention is already charged by `false_abstain_rate`). Sentences come from
  `textutil.sentences`, after `[n]` markers written just after the full stop ("text.[1] Next") are
  moved before it, so they count for the sentence they close.
- Must-mention strings match on token borders: "30" is found in "$30 billion" but not in "300" or
  "1930", and "June 3" not in "June 30". A mention may end inside a longer word ("drone" matches
  "drones"). `[n]` citation markers and superscript footnote marks are removed from the answer first.
- `citation_precision` is the mean over questions of each answer's share of correct citations
  (questions whose answer has no citation are skipped), like every other mean here. A citation is
  correct when its passage (the cited chunk) contains an evidence quote or when a sentence citing it
  was judged supported by the product's verifier.
- `evidence_citation_share` is the same kind of mean, but a citation counts only when its quoted
  text (not the whole passage, no verifier) is the evidence: it contains an evidence quote, or it is
  itself part of one. The second case covers a quote trimmed to the clause that answers ("... $41
  billion annually") and a sentence of a quote that spans two sentences; each piece between
  ellipses must lie inside the same evidence quote, and together they must hold at least
  `MIN_QUOTE_WORDS` words, so a stray fragment such as "in 2024" never counts.
- `answer_words` is the answer's word count: whitespace-separated tokens holding a letter or digit,
  after `[n]` markers are removed. `answer_words_p50` is its median over answers that do not
  abstain, answerable or not, and skips questions that raised.
- A question with `history` is a follow-up: `by_turn` groups the records into "standalone" (no
  history) and "followup", with the same keys as `by_kind`.
- Latency covers every question that did not raise, answerable or not. Percentiles interpolate
  linearly between order statistics (numpy's default).
- A metric with no eligible question is `None` (`null` in JSON), never 0.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.domain import Answer, Citation, SentenceSupport
from assistant.evaluate.questions import Question
from assistant.textutil import normalize_for_match, sentences, strip_footnote_marks, words

EVIDENCE_DEPTH = 10  # the "@10" of evidence_recall_at_10 and mrr_at_10, and the last point of the curve
TOKEN_OVERLAP = 0.8  # share of a quote's word tokens a chunk must hold to contain a straddling quote
MIN_QUOTE_WORDS = 6  # the README's shortest evidence quote: a cited fragment shorter than this is not "the evidence"

# The README's summary.json keys, in order; `by_kind` holds the same keys (except itself) per kind.
SUMMARY_KEYS = (
    "n",
    "n_answerable",
    "hit_at_1",
    "hit_at_5",
    "hit_at_10",
    "evidence_recall_at_10",
    "mrr_at_10",
    "must_mention",
    "answer_words_p50",
    "evidence_citation_share",
    "citation_precision",
    "cited_sentence_rate",
    "abstain_accuracy",
    "false_abstain_rate",
    "latency_ms_p50",
    "latency_ms_p95",
    "by_kind",
    "n_followups",
    "by_turn",
)
GROUP_KEYS = ("by_kind", "n_followups", "by_turn")  # the keys about groups rather than one metric
METRIC_KEYS = tuple(k for k in SUMMARY_KEYS if k not in GROUP_KEYS)
TURNS = ("standalone", "followup")  # the groups of `by_turn`: questions without and with `history`

# ---------------------------------------------------------------------------------------------
# Text matching

_MARKER = r"\[\s*\d+(?:\s*[,;\u2013-]\s*\d+)*\s*\]"  # [1]  [1, 2]  [1-3]
_MARKER_RE = re.compile(_MARKER)
_MARKERS_AFTER_STOP = re.compile(rf"([.!?])((?:\s*{_MARKER})+)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_PERCENT = re.compile(r"\s*(?:\bper\s?cent\b|%)")


def normalize_mention(text: str) -> str:
    """Normal form for must-mention comparison: lower-case, whitespace collapsed, `$` dropped,
    thousands commas dropped ("1,000" -> "1000") and "percent"/"per cent"/"%" all written "%"."""
    t = normalize_for_match(strip_footnote_marks(text)).replace("$", "")
    t = _THOUSANDS.sub("", t)
    t = _PERCENT.sub("%", t)
    return " ".join(t.split())


def strip_citation_markers(text: str) -> str:
    return _MARKER_RE.sub(" ", text)


def mention_present(answer_text: str, mention: str) -> bool:
    """Whether `mention` appears in the answer after `normalize_mention`, on token borders."""
    m = normalize_mention(mention)
    if not m:
        return True  # an empty requirement is trivially met
    hay = normalize_mention(strip_citation_markers(answer_text))
    left = r"(?<!\w)" if m[0].isalnum() else ""
    right = r"(?!\d)" if m[-1].isdigit() else ""
    return re.search(left + re.escape(m) + right, hay) is not None


def must_mention_share(answer_text: str, mentions: Sequence[str]) -> float | None:
    if not mentions:
        return None
    return sum(mention_present(answer_text, m) for m in mentions) / len(mentions)


def _match_form(text: str) -> str:
    # Superscript footnote marks would become digits under NFKC ("annually²⁰" -> "annually20")
    # and break the substring test, so they go first.
    return normalize_for_match(strip_footnote_marks(text))


def contains_quote(chunk_text: str, quote: str) -> bool:
    """README evidence matching: the whitespace-collapsed, lower-cased quote is a substring of the
    chunk, or at least 80 % of the quote's word tokens (counted with repetition, order ignored)
    occur in the chunk, which catches a quote that straddles a chunk border in the chunk holding
    most of it."""
    q = _match_form(quote)
    if not q:
        return False
    if q in _match_form(chunk_text):
        return True
    q_tokens = Counter(words(strip_footnote_marks(quote)))
    total = sum(q_tokens.values())
    if not total:
        return False
    c_tokens = Counter(words(strip_footnote_marks(chunk_text)))
    overlap = sum((q_tokens & c_tokens).values())
    return overlap / total >= TOKEN_OVERLAP


# ---------------------------------------------------------------------------------------------
# Retrieval metrics


def evidence_ranks(retrieved_texts: Sequence[str], evidence: Sequence[str], k: int) -> list[int | None]:
    """For each quote, the 1-based rank of the first of the top-k chunks containing it, or None."""
    ranks: list[int | None] = []
    for quote in evidence:
        ranks.append(
            next((i for i, t in enumerate(retrieved_texts[:k], 1) if contains_quote(t, quote)), None)
        )
    return ranks


def first_hit_rank(retrieved_texts: Sequence[str], evidence: Sequence[str], k: int) -> int | None:
    """1-based rank of the first of the top-k chunks that contains any evidence quote, or None."""
    found = [r for r in evidence_ranks(retrieved_texts, evidence, k) if r is not None]
    return min(found) if found else None


def hit_at_k(rank: int | None, k: int) -> float:
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(rank: int | None, k: int = EVIDENCE_DEPTH) -> float:
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def evidence_recall(
    retrieved_texts: Sequence[str], evidence: Sequence[str], k: int = EVIDENCE_DEPTH
) -> float:
    if not evidence:
        raise ValueError("evidence recall needs at least one evidence quote")
    ranks = evidence_ranks(retrieved_texts, evidence, k)
    return sum(r is not None for r in ranks) / len(ranks)


# ---------------------------------------------------------------------------------------------
# Answer metrics


def citation_correctness(
    citations: Sequence[Citation],
    support: Sequence[SentenceSupport],
    evidence: Sequence[str],
    passages_by_chunk: dict[str, str] | None = None,
) -> list[bool]:
    """Per citation: correct when its passage contains an evidence quote, or when the product's
    verifier marked a sentence that cites its number as supported. A citation without a passage
    falls back to the retrieved chunk with the same id (`passages_by_chunk`)."""
    supported = {n for s in support if s.supported for n in s.citations}
    out = []
    for c in citations:
        passage = c.passage or (passages_by_chunk or {}).get(c.chunk_id, "")
        by_evidence = bool(passage) and any(contains_quote(passage, q) for q in evidence)
        out.append(by_evidence or c.number in supported)
    return out


def citation_precision(
    citations: Sequence[Citation],
    support: Sequence[SentenceSupport],
    evidence: Sequence[str],
    passages_by_chunk: dict[str, str] | None = None,
) -> float | None:
    """Share of correct citations; None when there is no evidence to judge by or no citation."""
    if not evidence or not citations:
        return None
    flags = citation_correctness(citations, support, evidence, passages_by_chunk)
    return sum(flags) / len(flags)


_ELLIPSIS = re.compile(r"\s*(?:\.\s?\.\s?\.|\u2026)\s*")


def quotes_evidence(quoted: str, evidence: Sequence[str]) -> bool:
    """Whether a citation's quoted text is the evidence: it contains an evidence quote (README
    matching), or every piece of it between ellipses lies inside one and the same evidence quote and
    the pieces hold at least `MIN_QUOTE_WORDS` words (a quote trimmed to the clause that answers)."""
    if not quoted.strip():
        return False
    if any(contains_quote(quoted, q) for q in evidence):
        return True
    pieces = [_match_form(p) for p in _ELLIPSIS.split(quoted)]
    pieces = [p.strip(" .,;:") for p in pieces if p.strip(" .,;:")]
    if sum(len(words(p)) for p in pieces) < MIN_QUOTE_WORDS:
        return False
    return any(all(p in _match_form(q) for p in pieces) for q in evidence)


def evidence_citation_flags(citations: Sequence[Citation], evidence: Sequence[str]) -> list[bool]:
    """Per citation: whether its quoted text is the evidence (`quotes_evidence`); no verifier."""
    return [quotes_evidence(c.quote, evidence) for c in citations]


def answer_word_count(answer_text: str) -> int:
    """Words of an answer: whitespace-separated tokens with a letter or digit, `[n]` markers removed
    (a bullet's dash or a lone dash is not a word)."""
    return sum(any(ch.isalnum() for ch in t) for t in strip_citation_markers(answer_text).split())


def answer_sentences(answer_text: str) -> list[str]:
    """Sentences of an answer, with markers written after the full stop moved before it."""
    text = _MARKERS_AFTER_STOP.sub(lambda m: f" {m.group(2).strip()}{m.group(1)}", answer_text)
    return [s for s in sentences(text) if words(strip_citation_markers(s))]


def cited_sentence_counts(answer_text: str) -> tuple[int, int]:
    """(sentences carrying at least one `[n]` marker, all sentences)."""
    sents = answer_sentences(answer_text)
    return sum(bool(_MARKER_RE.search(s)) for s in sents), len(sents)


def cited_sentence_rate(answer_text: str) -> float | None:
    cited, total = cited_sentence_counts(answer_text)
    return cited / total if total else None


# ---------------------------------------------------------------------------------------------
# Per-question record and summary


@dataclass
class QuestionRecord:
    """Everything the summary and the report need about one question, JSON-ready via `to_dict`.

    Metric fields are None where the question is not eligible for that metric.
    """

    id: str
    kind: str
    answerable: bool
    abstained: bool = False
    error: str = ""
    latency_ms: float | None = None
    n_evidence: int = 0
    evidence_ranks: list[int | None] = field(default_factory=list)  # per quote, within the top 10
    first_hit_rank: int | None = None
    evidence_recall_at_10: float | None = None
    reciprocal_rank: float | None = None
    must_mention: float | None = None
    mentions_missing: list[str] = field(default_factory=list)
    n_citations: int = 0
    citations_correct: list[bool] = field(default_factory=list)
    citation_precision: float | None = None
    n_sentences: int = 0
    n_cited_sentences: int = 0
    cited_sentence_rate: float | None = None
    answer_words: int | None = None  # None when the product raised
    citations_quote_evidence: list[bool] = field(default_factory=list)
    evidence_citation_share: float | None = None
    history_turns: int = 0  # earlier user turns played before this one (0: a standalone question)

    @property
    def turn(self) -> str:
        """The `by_turn` group: "followup" when the question came after earlier turns."""
        return TURNS[1] if self.history_turns else TURNS[0]

    @property
    def retrieval_eligible(self) -> bool:
        return self.answerable and self.n_evidence > 0

    def hit_at(self, k: int) -> float | None:
        """hit@k for this question, None when it has no evidence to find."""
        return hit_at_k(self.first_hit_rank, k) if self.retrieval_eligible else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in (1, 5, 10):
            d[f"hit_at_{k}"] = self.hit_at(k)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuestionRecord:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})


def score_question(
    q: Question,
    answer: Answer | None,
    *,
    latency_ms: float | None = None,
    error: str = "",
) -> QuestionRecord:
    """Score one question. `answer` is None when the product raised (then `error` says why)."""
    rec = QuestionRecord(
        id=q.id,
        kind=q.kind,
        answerable=q.answerable,
        error=error,
        n_evidence=len(q.evidence),
        history_turns=len(q.history),
    )
    if answer is None:
        if q.answerable:
            if q.evidence:
                rec.evidence_ranks = [None] * len(q.evidence)
                rec.evidence_recall_at_10 = 0.0
                rec.reciprocal_rank = 0.0
            if q.must_mention:
                rec.must_mention = 0.0
                rec.mentions_missing = list(q.must_mention)
        return rec

    rec.latency_ms = latency_ms
    rec.abstained = bool(answer.abstained)
    texts = [s.chunk.text for s in answer.retrieved]
    if q.answerable and q.evidence:
        rec.evidence_ranks = evidence_ranks(texts, q.evidence, EVIDENCE_DEPTH)
        found = [r for r in rec.evidence_ranks if r is not None]
        rec.first_hit_rank = min(found) if found else None
        rec.evidence_recall_at_10 = len(found) / len(q.evidence)
        rec.reciprocal_rank = reciprocal_rank(rec.first_hit_rank, EVIDENCE_DEPTH)
    if q.answerable and q.must_mention:
        rec.mentions_missing = [m for m in q.must_mention if not mention_present(answer.text, m)]
        rec.must_mention = 1 - len(rec.mentions_missing) / len(q.must_mention)
    rec.n_citations = len(answer.citations)
    if q.answerable and q.evidence and answer.citations:
        passages = {s.chunk.id: s.chunk.text for s in answer.retrieved}
        rec.citations_correct = citation_correctness(answer.citations, answer.support, q.evidence, passages)
        rec.citation_precision = sum(rec.citations_correct) / len(rec.citations_correct)
        rec.citations_quote_evidence = evidence_citation_flags(answer.citations, q.evidence)
        rec.evidence_citation_share = sum(rec.citations_quote_evidence) / len(rec.citations_quote_evidence)
    rec.answer_words = answer_word_count(answer.text)
    rec.n_cited_sentences, rec.n_sentences = cited_sentence_counts(answer.text)
    if q.answerable and not answer.abstained and rec.n_sentences:
        rec.cited_sentence_rate = rec.n_cited_sentences / rec.n_sentences
    return rec


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """q-th percentile (0..100) with linear interpolation; None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def hit_at_k_curve(records: Sequence[QuestionRecord], max_k: int = EVIDENCE_DEPTH) -> list[float | None]:
    """hit@k for k = 1..max_k (the report's chart)."""
    return [_mean(r.hit_at(k) for r in records) for k in range(1, max_k + 1)]


def _metrics(records: Sequence[QuestionRecord]) -> dict[str, Any]:
    answerable = [r for r in records if r.answerable]
    unanswerable = [r for r in records if not r.answerable]
    latencies = [r.latency_ms for r in records if not r.error and r.latency_ms is not None]
    return {
        "n": len(records),
        "n_answerable": len(answerable),
        "hit_at_1": _mean(r.hit_at(1) for r in records),
        "hit_at_5": _mean(r.hit_at(5) for r in records),
        "hit_at_10": _mean(r.hit_at(10) for r in records),
        "evidence_recall_at_10": _mean(r.evidence_recall_at_10 for r in answerable),
        "mrr_at_10": _mean(r.reciprocal_rank for r in answerable),
        "must_mention": _mean(r.must_mention for r in answerable),
        "answer_words_p50": percentile(
            [float(r.answer_words) for r in records if r.answer_words is not None and not r.abstained], 50
        ),
        "evidence_citation_share": _mean(r.evidence_citation_share for r in answerable),
        "citation_precision": _mean(r.citation_precision for r in answerable),
        "cited_sentence_rate": _mean(r.cited_sentence_rate for r in answerable),
        "abstain_accuracy": _mean(float(r.abstained) for r in unanswerable),
        "false_abstain_rate": _mean(float(r.abstained) for r in answerable),
        "latency_ms_p50": percentile(latencies, 50),
        "latency_ms_p95": percentile(latencies, 95),
    }


def summarize(records: Sequence[QuestionRecord]) -> dict[str, Any]:
    """The README's summary.json keys (and only those): `by_kind` grouped by kind as written,
    `n_followups` and `by_turn` ("standalone", "followup"; a group without questions is left out)."""
    out = _metrics(records)
    kinds: dict[str, list[QuestionRecord]] = {}
    for r in records:
        kinds.setdefault(r.kind, []).append(r)
    out["by_kind"] = {kind: _metrics(rs) for kind, rs in sorted(kinds.items())}
    out["n_followups"] = sum(r.turn == TURNS[1] for r in records)
    turns = {t: [r for r in records if r.turn == t] for t in TURNS}
    out["by_turn"] = {t: _metrics(rs) for t, rs in turns.items() if rs}
    return out
