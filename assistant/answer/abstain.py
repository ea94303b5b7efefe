"""Abstention decided in code, from the retrieval evidence, before any backend writes a word.

Features of the question against what retrieval found (all cheap: BM25 idf from the snapshot,
sentence vectors from the index, the query vector retrieval already computed):

- `coverage`: the largest idf-weighted share of the question's topic terms that one top passage
  (its text and heading) contains. A question whose rare terms ("tomato", "softwood") occur in no
  top passage is asking about something the passages do not discuss.
- `sentence_coverage`: the same for the best single sentence.
- `dense`: the best cosine between the question and a sentence of a top passage.
- `unknown_share`: the share of the question's idf weight carried by terms the corpus never uses.
- `answer_slot` / `slot_coverage`: what a quantity question ("how many", "what share") or a date
  question ("when") needs is a sentence that states a figure (a date) *about the question's
  topic*. `slot_coverage` is the topic coverage of the best top sentence (with the sentence before
  it and its heading) that holds a number the question does not already contain, a date for "when".
  A near miss built from the corpus's words ("how many troops did the White House want to deploy",
  "what share of U.S. cheese exports ...") finds the topic sentence but no figure in it.
- `unknown_names` / `absent_names`: names the question uses (capitalised words past the start of a
  sentence, acronyms) that no document uses ("Tesla", "Banxico", "Ottawa"), or that the top
  passages do not contain (an acronym counts as present when its expansion is there: "RRM" ~
  "Rapid Response Mechanism").
- `absent_numbers`: numbers and years of the question missing from the top passages ("in 2025"
  when the passages report 2024).
- `after_corpus`: the question asks what *happened* at a date later than the newest document ("Did
  all three countries confirm the extension at the July 2026 review?"): no document can report it.
- `missing_ids`: treaty articles, annexes, U.S. Code sections or tariff items the question names
  that no indexed document contains ("Article 32.10" when only chapter 2 is indexed), and treaty
  chapters it asks about whose text is not indexed ("What does USMCA Chapter 8 say ..."), and a
  party's tariff schedule when only other parties' schedules are indexed ("Mexico's schedule").
- `out_of_scope`: when the question narrows itself to the brief ("what does the brief say about
  ..."), its topic terms that only other documents use ("tomato" asked of the brief: only the
  tariff schedule has tomatoes). A user's kind filter does not count: measured on paraphrases
  ("ban" for "prohibition"), it would turn wording into missing topics.
  Unknown terms and figure slots are judged against the scope's vocabulary, and a word the corpus
  never uses does not count twice: `slot_coverage` weighs the terms the scope does use (unless
  unknown words carry most of the topic).

`decide` abstains outright on a missing identifier, a question about events after the corpus or a
question about the brief mostly in terms the brief never uses (`OUT_OF_SCOPE_ABOVE`); otherwise
it abstains when the evidence score — a logistic combination of the features fitted by
bench/abstain_calibration.py on questions that are not dev questions — says the passages more
likely do not answer than do, at a decision threshold chosen on those questions to keep false
abstentions at about 3 % (`ABSTAIN_ABOVE`). An LLM backend adds a second line: the model answers
with the cannot-answer sentinel when the passages do not answer, and that becomes an abstention
too.

Calibration (bench/abstain_calibration.py, index of brief + mirror, 2026-11-28): fitted on
bench/calibration_questions.jsonl (70 answerable, 59 unanswerable: off-topic questions and 30 near
misses written from the corpus's own words) and bench/questions/heldout.jsonl (78 / 12), questions
routed to the recommendation summary left out. Fitting sets: 38/59 and 7/12 unanswerable abstain
(the schedule rule added one held-out question, the wider Spanish glossary took another), 2/70 and
2/75 false abstentions. Checked, never chosen on: dev 3/3 unanswerable (one more goes to
the recommendation summary), 1/36 false (4/36 before slot coverage ignored unknown words, which
`unknown_share` already counts); the team's test set 7/10 (one by the chapter rule), 5/70 false
(6/10, 6/70 before). What still fails: a name the corpus never uses ("Britain", "Vietnam") is often a paraphrase, not a near miss;
near misses with no slot and no foreign name ("what did the panel rule on ...", "which companies
were sanctioned ...") are answered.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np

from assistant.answer.verify import fold, name_present, names
from assistant.domain import ScoredChunk
from assistant.index.lexical import tokenize
from assistant.index.store import Snapshot
from assistant.retrieve.hybrid import exact_keys, names_the_brief
from assistant.retrieve.translate import glossary_terms
from assistant.textutil import numbers, split_sentences, strip_footnote_marks

EVIDENCE_PASSAGES = 6  # the passages whose evidence counts (the ones an answer is drawn from)
UBIQUITOUS_IDF = 1.0  # terms in most passages ("Mexico", "USMCA") say nothing about coverage

# General English question vocabulary (verbs, adverbs, adjectives of asking and comparing): not
# topic words, so their absence from a passage says nothing about whether it answers.
QUESTION_VOCABULARY = frozenset(tokenize(
    "be have do say get got make go goes went gone know take took taken see come came think look want give "
    "gave given use find tell ask seem feel try tried leave call keep kept let begin help show hear play run "
    "move live believe bring happen sit stand lose lost meet include continue set learn lead understand "
    "watch follow stop create speak read allow add spend open walk win offer remember consider appear buy "
    "wait serve send expect build stay fall reach remain suggest pass sell decide pull put mean means meant "
    "point turn face hold hit way ways thing things kind sort lot lots part overall far ahead long often "
    "fast quick quickly big large larger small little main mainly mostly really actually already still yet "
    "ever never always even enough better best worse worst good bad new old first last next same different "
    "current currently recent recently today now bottom line side sides whole general generally specific "
    "specifically particular particularly exactly roughly approximately around nearly almost well right "
    "wrong sure true false able likely possible need needs needed instead elsewhere else compared compare "
    "comparison seems happens happened doing done told"
))


_QUANTITY = re.compile(
    r"\b(how (much|many|large|big|high|fast|far)|by how much|what (?:\w+ ){0,2}(share|percent|percentage|proportion|"
    r"portion|fraction)\b|(?:^|[.?!,;]\s)\W*what (?:\w+ ){0,2}(rate|amount|number|level|ceiling|tariff|duty)s?\b|"
    r"cu[aá]nt[oa]s?|qu[eé] (porcentaje|parte|arancel|tasa))",
    re.I,
)
_COUNTED = re.compile(r"\bhow many (\w+)", re.I)  # "how many troops": the figure must count troops
_SHARE = re.compile(r"\bwhat (?:\w+ ){0,2}(share|percent|percentage|proportion|portion|fraction)\b", re.I)
_SHARE_IN_TEXT = re.compile(r"%|\bper ?cent|\bin every\b|\bhalf\b|\bthird\b|\bquarter\b", re.I)
_MONEY = re.compile(r"\bhow much (money|did \w+ (spend|invest|pay|earn|cost))|\bhow much (?:\w+ ){0,3}(spend|invest|cost|worth)\b", re.I)
_MONEY_IN_TEXT = re.compile(r"\$|\bbillion\b|\bmillion\b|\bdollars?\b", re.I)
_DATE = re.compile(r"^\W*when\b|\bwhen (?:did|does|do|will|was|were|is|are|has|have|had|would|could|should|can)\b|"
                   r"\b(what date|which year|in what year|cu[aá]ndo)\b", re.I)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_DATE_IN_TEXT = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d|\b(?:19|20)\d\d\b", re.I
)
_MONTHS = frozenset(re.findall(r"\w+", "january february march april may june july august september october "
                                        "november december jan feb mar apr jun jul aug sep sept oct nov dec"))
_QUESTION_WORDS = frozenset(re.findall(r"\w+", "what which who whom whose when where why how is are do does did "
                                                "can could should would will may might has have had was were"))
# "Did ... happen", "What was decided": the question asks for an outcome, not for what a text says.
_OUTCOME = re.compile(r"\b(did|was|were|happened|decided|ruled|agreed|came out|outcome|result(?:ed)?)\b", re.I)
_ABOUT_A_TEXT = re.compile(r"\b(brief|law|act|proclamation|article|section|annex|say|says|said|expects?|"
                           r"predicts?|requires?|required|deadline|scheduled|must|shall)\b", re.I)


@dataclass(frozen=True)
class EvidenceFeatures:
    coverage: float
    sentence_coverage: float
    dense: float
    unknown_share: float
    n_terms: int
    missing_ids: tuple[str, ...] = ()  # article/section/annex/tariff ids named but in no document
    answer_slot: str = ""  # "quantity", "date" or "" (what the question's answer must contain)
    slot_coverage: float = 1.0  # topic coverage of the best top sentence that fills the slot
    unknown_names: tuple[str, ...] = ()  # names no document uses
    absent_names: tuple[str, ...] = ()  # names some document uses, but no top passage
    absent_numbers: tuple[str, ...] = ()  # the question's numbers/years missing from the top passages
    after_corpus: str = ""  # the later-than-the-corpus year whose events the question asks about
    out_of_scope: tuple[str, ...] = ()  # question words only documents outside the searched scope use
    out_of_scope_share: float = 0.0  # ... and their share of the question's topic weight

    def to_dict(self) -> dict[str, object]:
        return {k: v if isinstance(v, (tuple, str)) else round(float(v), 4) for k, v in asdict(self).items()}

    def vector(self) -> np.ndarray:
        """The inputs of the evidence score, in the order of `WEIGHTS`."""
        return np.array([
            self.coverage,
            self.dense,
            self.unknown_share,
            1.0 - self.slot_coverage,  # 0 when the question has no slot
            min(len(self.unknown_names), 2),
            min(len(self.absent_names), 2),
            min(len(self.absent_numbers), 2),
        ])


FEATURES = ("coverage", "dense", "unknown_share", "slot_gap", "unknown_names", "absent_names", "absent_numbers")
# Logistic weights (bias first, then FEATURES) of P(the passages do not answer), and the decision
# threshold; fitted by bench/abstain_calibration.py (see the module docstring).
WEIGHTS = (1.196, 0.151, -4.892, 0.367, 2.979, 2.73, 0.628, 2.573)
ABSTAIN_ABOVE = 0.565
# A question narrowed to the brief ("what does the brief say about ...") whose topic weight lies at
# least this much on terms only other documents use is about something the brief does not discuss.
# Fitting sets: the two such unanswerable questions score 0.50 and 0.74, the 17 answerable ones at
# most 0.33.
OUT_OF_SCOPE_ABOVE = 0.45
# The known terms of a figure question stand for at least this share of its topic in the slot's
# coverage (see `slot_coverage`): half, not tuned (0.3 and 0.5 decide the fitting sets alike).
KNOWN_TOPIC_FLOOR = 0.5


def out_of_scope_terms(question: str, snap: Snapshot, scope: set[str] | None) -> set[str]:
    """Topic terms of the question that other documents use but no document of the `scope` does
    ("tomato" asked of the brief, which never mentions one: only the tariff schedule does)."""
    if not scope:
        return set()
    vocabulary = snap.vocabulary(scope)
    return {t for t in tokenize(question)
            if t not in QUESTION_VOCABULARY and t not in vocabulary and snap.lexical.idf(t)}


def question_words(question: str, terms: set[str]) -> tuple[str, ...]:
    """The question's words (as typed) behind search terms, for a person to read."""
    if not terms:
        return ()
    words = [w for w in re.findall(r"[\w\-’']+", question) if set(tokenize(w)) & terms]
    return tuple(dict.fromkeys(words))


def term_weights(question: str, snap: Snapshot, scope: set[str] | None = None) -> tuple[dict[str, float], set[str]]:
    """idf per topic term of the question, and the terms the corpus (or, given a `scope` of
    document kinds, the scope) never uses, weighted as the rarest possible. Question vocabulary
    and terms found in nearly every passage are left out."""
    n = max(len(snap.lexical.ids), 1)
    unseen = float(np.log(1 + (n + 0.5) / 0.5))
    vocabulary = snap.vocabulary(scope) if scope else None
    weights: dict[str, float] = {}
    unknown: set[str] = set()
    for t in tokenize(question):
        if t in QUESTION_VOCABULARY:
            continue
        idf = snap.lexical.idf(t)
        if vocabulary is not None and t not in vocabulary:
            idf = 0.0
        if not idf:
            unknown.add(t)
        elif idf < UBIQUITOUS_IDF:
            continue
        weights[t] = idf or unseen
    return weights, unknown


def _share(weights: dict[str, float], present: set[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / total if total else 0.0


def missing_identifiers(question: str, snap: Snapshot) -> tuple[str, ...]:
    """Identifiers the question names ("Article 32.10", "§ 4999", "Annex 3-B", "0203.22.10") that
    no indexed document has as a key nor mentions anywhere in its text."""
    missing = []
    for key in exact_keys(question):
        k = key.lower()
        if k in snap.by_key or any(snap.lexical.idf(t) for t in tokenize(key) if any(ch.isdigit() for ch in t)):
            continue
        if re.fullmatch(r"\d{4}\.\d{2}", k) and any(x.startswith(k) for x in snap.by_key):
            continue  # a tariff subheading: its lines are keyed by the full item
        missing.append(key)
    return tuple(missing) + missing_chapters(question, snap) + missing_schedules(question, snap)


_TREATY_CHAPTER = re.compile(
    r"\b(?:USMCA|CUSMA|T-MEC|NAFTA 2\.0)\s+(?:chapter|cap[ií]tulo)\s+(\d{1,2})\b|"
    r"\b(?:chapter|cap[ií]tulo)\s+(\d{1,2})\s+(?:(?:of|del?)\s+)?(?:the\s+)?(?:USMCA|CUSMA|T-MEC|agreement|treaty|tratado)\b",
    re.I,
)


def missing_chapters(question: str, snap: Snapshot) -> tuple[str, ...]:
    """Treaty chapters the question asks about ("What does USMCA Chapter 8 say ...") of which no
    text is indexed: a mention of the chapter elsewhere is not the chapter. A question about what
    the brief says of a chapter is left to the evidence."""
    named = [m.group(1) or m.group(2) for m in _TREATY_CHAPTER.finditer(question)]
    if not named or names_the_brief(question):
        return ()
    present = {str(c.meta.get("chapter")) for c in snap.chunks.values() if c.kind == "treaty"}
    return tuple(f"USMCA Chapter {n}" for n in dict.fromkeys(named) if n not in present)


_PARTY = r"(Mexico|Mexican|Canada|Canadian|United States|U\.S\.|US|American)"
_PARTY_SCHEDULE = re.compile(
    rf"\b{_PARTY}(?:['’]s)?\s+(?:(?:USMCA|CUSMA|T-MEC|tariff|tariffs)\s+){{0,2}}schedule\b|"
    rf"\bschedule(?:\s+list)?\s+(?:of\s+)?(?:the\s+)?{_PARTY}(?![\w.])"
)
_SCHEDULE_TITLE = re.compile(r"Schedule of (?:the )?(Mexico|Canada|United States)", re.I)


def _party(name: str) -> str:
    n = name.lower().rstrip(".")
    return "Mexico" if n.startswith("mexic") else "Canada" if n.startswith("canad") else "the United States"


def missing_schedules(question: str, snap: Snapshot) -> tuple[str, ...]:
    """A party's tariff schedule the question asks about ("Mexico's USMCA schedule") when only
    other parties' schedules are indexed: another party's rates are not an answer."""
    named = [_party(m.group(1) or m.group(2)) for m in _PARTY_SCHEDULE.finditer(question)]
    if not named:
        return ()
    present = {_party(m.group(1)) for d in snap.documents.values() if d.get("kind") == "tariff"
               for m in [_SCHEDULE_TITLE.search(str(d.get("title") or ""))] if m}
    return tuple(f"the tariff schedule of {p}" for p in dict.fromkeys(named) if p not in present)


def answer_slot(question: str) -> str:
    """"quantity" for "how many/much", "what share/rate ..."; "date" for "when"; else ""."""
    if _QUANTITY.search(question):
        return "quantity"
    return "date" if _DATE.search(question) else ""


def slot_coverage(slot: str, weights: dict[str, float], retrieved: list[ScoredChunk], snap: Snapshot,
                  question: str, *, translated: bool = False, unknown: set[str] = frozenset()) -> float:
    """Topic coverage of the best top sentence (read with the sentence before it and its passage's
    heading) that holds what the slot needs: for a quantity a number the question does not contain
    (not a bare year) — a percentage for "what share", an amount of money for "how much did they
    spend", the counted thing next to it for "how many troops" — and for "when" a date. 1.0 when
    the question has no slot.

    Coverage is of the terms the corpus uses: an `unknown` word ("pickups" for "light trucks") is
    already counted by `unknown_share`, and no sentence could contain it. Only when unknown words
    carry most of the topic do they count (the known terms then stand for at most
    `KNOWN_TOPIC_FLOOR` of it): a figure found by "rate" alone says nothing about "antidumping
    duties on tomatoes"."""
    if not slot:
        return 1.0
    total = sum(weights.values())
    if not total:
        return 1.0
    asked = numbers(question)
    counted = _COUNTED.search(question)
    counted_term = None if translated or counted is None else next(iter(tokenize(counted.group(1))), None)
    wants_share, wants_money = bool(_SHARE.search(question)), bool(_MONEY.search(question))
    focus = {t: w * w for t, w in weights.items()}  # squared idf: the rarest terms are the topic
    known = sum(w for t, w in focus.items() if t not in unknown)
    scale = sum(focus.values()) / max(known, KNOWN_TOPIC_FLOOR * sum(focus.values()), 1e-9)
    best = 0.0
    for sc in retrieved[:EVIDENCE_PASSAGES]:
        c = sc.chunk
        spans = snap.sentence_spans[c.id][1] if c.id in snap.sentence_spans else split_sentences(c.text)
        texts = [c.text[a:b] for a, b in spans] or [c.text]
        for i, text in enumerate(texts):
            body = strip_footnote_marks(text)
            near = " ".join((texts[i - 1] if i else "", body))
            if slot == "quantity":
                filled = any(not _YEAR.match(n) for n in numbers(body) - asked)
                filled = filled and (not wants_share or bool(_SHARE_IN_TEXT.search(body)))
                filled = filled and (not wants_money or bool(_MONEY_IN_TEXT.search(body)))
                filled = filled and (counted_term is None or counted_term in tokenize(near))
            else:
                filled = bool(_DATE_IN_TEXT.search(body))
            if filled:
                best = max(best, scale * _share(focus, set(tokenize(" ".join((near, c.section))))))
    return min(best, 1.0)


def question_names(question: str) -> set[str]:
    """Names of the question (verify.names per sentence, so no sentence's first word counts),
    possessives dropped, without months and question words."""
    out: set[str] = set()
    for a, b in split_sentences(question):
        out |= {re.sub(r"['’]s$", "", n) for n in names(question[a:b])}  # "RRM's" is "RRM"
    return {n for n in out if n and n not in _MONTHS and n not in _QUESTION_WORDS}


def _initials(text: str) -> set[str]:
    """Initials of every run of up to six words ("Rapid Response Mechanism" -> "rrm"), small
    words skipped: an acronym is present when its expansion is."""
    words = [w for w in re.findall(r"[A-Za-z][\w\-]*", text) if w.lower() not in ("of", "the", "and", "for", "on")]
    out = set()
    for i in range(len(words)):
        acc = ""
        for w in words[i:i + 6]:
            acc += w[0].lower()
            out.add(acc)
    return out


def name_evidence(question: str, retrieved: list[ScoredChunk], snap: Snapshot) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(names no document uses, names some document uses but no top passage contains)."""
    qnames = question_names(question)
    if not qnames:
        return (), ()
    text = strip_footnote_marks("\n".join(sc.chunk.search_text for sc in retrieved[:EVIDENCE_PASSAGES]))
    folded = fold(text)
    words = {w.strip(".’'-") for w in re.findall(r"[\w.’'\-]+", folded)} | set(re.findall(r"\w+", folded))
    initials: set[str] | None = None
    unknown, absent = [], []
    for n in sorted(qnames):
        if name_present(n, words, folded):
            continue
        if n.isalpha() and len(n) <= 5:
            initials = initials if initials is not None else _initials(text)
            if n in initials:
                continue
        in_corpus = any(snap.lexical.idf(t) for t in tokenize(n))
        (absent if in_corpus else unknown).append(n)
    return tuple(unknown), tuple(absent)


def absent_numbers(question: str, retrieved: list[ScoredChunk]) -> tuple[str, ...]:
    """Numbers and years of the question (identifiers aside) that no top passage contains."""
    asked = {n for n in numbers(question) if not re.fullmatch(r"\d{1,2}\.\d{1,2}|\d{4}\.\d{2}(?:\.\d{2})?", n)}
    if not asked:
        return ()
    present: set[str] = set()
    for sc in retrieved[:EVIDENCE_PASSAGES]:
        present |= numbers(strip_footnote_marks(sc.chunk.search_text))
    return tuple(sorted(asked - present))


def newest_year(snap: Snapshot) -> int | None:
    """The year of the newest indexed document (its `date`), if any document has one."""
    years = [int(m.group(0)) for d in snap.documents.values()
             for m in [re.match(r"(?:19|20)\d\d", str(d.get("date") or ""))] if m]
    return max(years) if years else None


def after_corpus(question: str, snap: Snapshot) -> str:
    """The year, later than the newest document, whose outcome the question asks about ("Did the
    2026 joint review extend the agreement?"); "" when the question asks what a text says."""
    newest = newest_year(snap)
    if newest is None or not _OUTCOME.search(question) or _ABOUT_A_TEXT.search(question):
        return ""
    later = [y for y in re.findall(r"\b(?:19|20)\d\d\b", question) if int(y) > newest]
    return later[0] if later else ""


def features(
    question: str,
    retrieved: list[ScoredChunk],
    snap: Snapshot,
    query_vector: np.ndarray | None,
    *,
    translated: bool = False,
    scope: set[str] | None = None,
) -> EvidenceFeatures:
    """The evidence features of `question` (in English: a Spanish question's gloss, with
    `translated=True`, whose words the glossary did not know are not counted as unknown, and
    whose names are not checked: the gloss keeps untranslated Spanish words capitalised) against
    the top retrieved passages."""
    weights, unknown = term_weights(question, snap, scope)
    if translated:  # Spanish words the glossary kept as typed are not evidence of anything
        kept = unknown - glossary_terms()
        weights = {t: w for t, w in weights.items() if t not in kept}
        unknown -= kept
    outside = out_of_scope_terms(question, snap, scope) & set(weights)
    total = sum(weights.values())
    unknown_share = sum(weights[t] for t in unknown) / total if total else 0.0
    coverage = sentence_coverage = 0.0
    dense = -1.0
    for sc in retrieved[:EVIDENCE_PASSAGES]:
        c = sc.chunk
        coverage = max(coverage, _share(weights, set(tokenize(c.search_text))))
        spans, vecs = snap.sentences(c.id) if c.id in snap.sentence_spans else ([(0, len(c.text))], None)
        for i, (a, b) in enumerate(spans):
            sentence_coverage = max(sentence_coverage, _share(weights, set(tokenize(c.text[a:b]))))
            if vecs is not None and query_vector is not None:
                dense = max(dense, float(vecs[i] @ query_vector))
        if vecs is None and sc.dense is not None:
            dense = max(dense, sc.dense)
    if not weights:  # nothing but question words and ubiquitous terms: let similarity decide
        coverage = sentence_coverage = 1.0 if retrieved else 0.0
    slot = answer_slot(question)
    unknown_names, absent_names = ((), ()) if translated else name_evidence(question, retrieved, snap)
    return EvidenceFeatures(
        coverage, sentence_coverage, max(dense, 0.0), unknown_share, len(weights),
        missing_identifiers(question, snap),
        answer_slot=slot,
        slot_coverage=(slot_coverage(slot, weights, retrieved, snap, question, translated=translated, unknown=unknown)
                       if retrieved else 0.0),
        unknown_names=unknown_names,
        absent_names=absent_names,
        absent_numbers=absent_numbers(question, retrieved),
        after_corpus=after_corpus(question, snap),
        out_of_scope=question_words(question, outside),
        out_of_scope_share=sum(weights.get(t, 0.0) for t in outside) / total if total else 0.0,
    )


def evidence_score(f: EvidenceFeatures, weights: tuple[float, ...] = WEIGHTS) -> float:
    """P(the passages do not answer the question) under the fitted logistic model."""
    z = weights[0] + float(np.dot(weights[1:], f.vector()))
    return float(1.0 / (1.0 + np.exp(-z)))


def decided_by_rule(f: EvidenceFeatures) -> bool:
    """The outright rules apply (the logistic score is not consulted)."""
    return bool(f.missing_ids or f.after_corpus or f.out_of_scope_share >= OUT_OF_SCOPE_ABOVE)


def decide(f: EvidenceFeatures, weights: tuple[float, ...] = WEIGHTS, threshold: float = ABSTAIN_ABOVE) -> tuple[bool, str]:
    """(abstain?, why) under the calibrated rule."""
    if f.missing_ids:
        return True, f"the indexed documents do not contain {', '.join(f.missing_ids)}"
    if f.after_corpus:
        return True, f"the question asks about events of {f.after_corpus}, after the newest indexed document"
    if f.out_of_scope_share >= OUT_OF_SCOPE_ABOVE:
        return True, (f"the brief never mentions {', '.join(f.out_of_scope)}; other indexed documents do "
                      "(ask without naming the brief to search them)")
    p = evidence_score(f, weights)
    if p <= threshold:
        return False, ""
    return True, f"weak evidence (score {p:.2f} > {threshold:.2f}): " + _weakest(f)


def _weakest(f: EvidenceFeatures) -> str:
    """What a person reads as the reason: the features that pushed the score up."""
    parts = []
    if f.unknown_names:
        parts.append(f"no document mentions {', '.join(f.unknown_names)}")
    if f.absent_names:
        parts.append(f"the best passages do not mention {', '.join(f.absent_names)}")
    if f.absent_numbers:
        parts.append(f"the best passages do not mention {', '.join(f.absent_numbers)}")
    if f.answer_slot and f.slot_coverage < 0.5:
        what = "figure" if f.answer_slot == "quantity" else "date"
        parts.append(f"no {what} is stated about the question's topic (coverage {f.slot_coverage:.2f})")
    if f.unknown_share > 0.3:
        parts.append(f"{f.unknown_share:.0%} of the question's weight is on terms no document uses")
    parts.append(f"term coverage {f.coverage:.2f}, similarity {f.dense:.2f}")
    return "; ".join(parts)
