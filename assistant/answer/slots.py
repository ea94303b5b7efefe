"""Where the slots of a question lie in its text, so a follow-up can swap or refer to them.

`analyze()` says what a question names (identifiers, years, concepts); a follow-up rewrite also
needs *where*: to put "Canada" in place of "Mexico", "Article 2.5" in place of "Article 2.4", or
"labor" in place of "energy", and to find the phrase a pronoun stands for. Mentions are located
here: parties, years, identifiers (with their label word and sub-paragraph, kept whole), documents,
topic phrases (the analysis's concepts without those), names and the grammatical subject.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.retrieve.analysis import concepts_of, identifiers_of
from assistant.retrieve.language import detect_language
from assistant.textutil import AUXILIARIES, fold


def wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_PARTY = re.compile(
    r"(?<![\w.])(?:(?P<the>the\s+)?(?:United States|U\.S\.?(?:A\.?)?|US|USA)|Mexico|México|Mexican[as]?|"
    r"mexican[oa]s?|Canada|Canadá|Canadian[s]?|canadienses?|Estados Unidos|EE\.\s?UU\.?|EEUU|estadounidenses?|"
    r"American[s]?)(?!\w)",
    re.I,
)
_ADJECTIVE = re.compile(r"(?i)(mexican|canadian|american|mexicano|mexicana|canadiense|estadounidense)$")
EN_NOUN = {"Mexico": "Mexico", "Canada": "Canada", "US": "the U.S."}
EN_ADJ = {"Mexico": "Mexican", "Canada": "Canadian", "US": "U.S."}
ES_NOUN = {"Mexico": "México", "Canada": "Canadá", "US": "Estados Unidos"}
ES_ADJ = {"Mexico": "mexicano", "Canada": "canadiense", "US": "estadounidense"}

_DOC = re.compile(
    r"\b(?:(?:the|this|el|la|este|esta)\s+)?(?:brief|report|treaty|agreement|implementing (?:act|law)|law|act|statute|"
    r"proclamation|(?:tariff\s+)?schedule|informe|tratado|acuerdo|ley|proclamaci[oó]n|lista arancelaria)\b",
    re.I,
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
AGREEMENT = re.compile(r"\b(?:USMCA|CUSMA|T-MEC)\b")  # the agreement by its names
_TIME_WORDS = wordset("year years month months today now time period date last next año años mes fecha")
# Spanish function words: the analysis's concepts are English (a Spanish question is glossed first).
_ES_STOP = wordset("el la los las un una unos unas de del al a en sobre para con sin por que qué se su sus y o u e es son "
    "cual cuál cuales cuáles quien quién como cómo cuando cuándo donde dónde cuanto cuánto cuánta cuántos "
    "cuántas dice dicen hay está están este esta estos estas ese esa esos esas lo le les muy más informe")
AUX = AUXILIARIES
_DO_AUX = AUX - wordset("is are was were")  # a bare verb or participle follows (after "is", often an adjective)
_WH = wordset("what which who whom whose how when where why")
# Openings of a subordinate clause ("If a good is shipped ..., can it ..."; "When a panel finds ...,
# what ..."): the auxiliary that follows is the clause's, and the phrase after it is no subject.
# Closed classes of function words; seen failing in sealed round 16's follow-ups after its one run
# ("it" read as "shipped"); no understood question of the tuning conversations changes.
_SUBORDINATE = wordset("if once although though since because after before while unless whether suppose si cuando")
_WH_ADVERBS = wordset("when where why")
_CLAUSE_WORDS = wordset("to from by at as that than if or but so with into through under over")
_JOIN = wordset("of on in for and the de del la los")
# Nouns for people, so "he"/"she" can find "the author" or "the President" (a closed list).
PERSON_NOUNS = wordset("author president secretary minister ambassador representative chair commissioner negotiator director "
    "governor senator official autor presidente presidenta secretario ministro embajador")


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    text: str
    value: str  # canonical: party name, year, identifier key, or the phrase itself
    kind: str  # party: "noun"/"adj"; identifier: "article"/"section"/"annex"/"tariff"/"clause"; "doc"; "year"


def parties(text: str) -> list[Mention]:
    out = []
    for m in _PARTY.finditer(text):
        word = m.group(0)
        bare = re.sub(r"^the\s+", "", word, flags=re.I)
        if bare.lower() == "us" and bare != "US":  # "us" the pronoun
            continue
        f = fold(bare)
        value = "Mexico" if f.startswith("mexic") else "Canada" if f.startswith("canad") else "US"
        adjective = bool(_ADJECTIVE.search(f))
        if value == "US" and not m.group("the") and bare.upper().startswith("U") and "." in bare \
                and re.match(r"\s[a-z]", text[m.end():m.end() + 2]):
            adjective = True  # "U.S. auto-parts imports" (never "EE. UU.": "de EE. UU. bajo" is a noun)
        out.append(Mention(m.start(), m.end(), word, value, "adj" if adjective else "noun"))
    return out


def ref_kind(key: str) -> str:
    if key.startswith("annex "):
        return "annex"
    if " cl. " in key:
        return "clause"
    if re.fullmatch(r"\d{4}\.\d\d(?:\.\d\d)?", key):
        return "tariff"
    if re.fullmatch(r"4[5-7]\d\d", key):
        return "section"
    return "article"


_LABEL = {
    "article": r"(?:(?:USMCA|CUSMA|T-MEC)\s+)?(?:Article|Art\.?|art[ií]culo)\s*",
    "section": r"(?:(?:19\s+)?U\.?S\.?C\.?\s*)?(?:§+|sections?|sec\.)?\s*",
    "annex": r"(?:(?:USMCA|CUSMA|T-MEC)\s+)?(?:Annex|Anexo)\s+",
    "tariff": r"(?:(?:tariff\s+)?(?:item|line|subheading|heading|fracci[oó]n)\s+)?",
    "clause": r"(?:Proclamation|Proclamaci[oó]n)\s+",
}


def refs(text: str) -> list[Mention]:
    """The identifiers `analyze` finds, located with their label word and sub-paragraph, kept whole
    ("USMCA Article 2.11.3", "19 U.S.C. § 4513(c)(4)", "Annex 2-C", "8542.31.00")."""
    out: list[Mention] = []
    for key in identifiers_of(text):
        kind = ref_kind(key)
        number = key.split(" ", 1)[1] if kind == "annex" else key.split(" cl. ")[0]
        tail = r"(?:\.\d+)?" if kind == "article" else r"(?:\([a-zA-Z0-9]+\))*" if kind == "section" else ""
        if kind == "clause":
            tail = r"\b.*?\b(?:clause|section|sec\.?|cl\.)\s*" + re.escape(key.split(" cl. ")[1])
        m = re.search(rf"{_LABEL[kind]}(?<![\w.]){re.escape(number)}(?!\w){tail}", text, re.I)
        if m is None or any(o.start <= m.start() < o.end for o in out):
            continue
        whole = m.group(0).rstrip()
        out.append(Mention(m.start(), m.start() + len(whole), whole.strip(), key, kind))
    return sorted(out, key=lambda r: r.start)


def years(text: str) -> list[Mention]:
    inside = refs(text)
    return [Mention(m.start(), m.end(), m.group(0), m.group(0), "year") for m in _YEAR.finditer(text)
            if not any(r.start <= m.start() < r.end for r in inside)]


def docs(text: str) -> list[Mention]:
    return [Mention(m.start(), m.end(), m.group(0), fold(m.group(0)), "doc") for m in _DOC.finditer(text)]


def concept_spans(text: str) -> list[tuple[int, int]]:
    """Where the analysis's concepts (runs of content words) lie in `text`; for a Spanish question,
    runs of words between Spanish function words."""
    spans: list[tuple[int, int]] = []
    if detect_language(text) == "es":
        run: list[tuple[int, int]] = []
        for m in re.finditer(r"[\wÀ-ÿ][\w’'\-.]*[\wÀ-ÿ]|[\wÀ-ÿ]", text):
            w = fold(m.group(0))
            if w in _ES_STOP:
                if run:
                    spans.append((run[0][0], run[-1][1]))
                run = []
            else:
                run.append(m.span())
            if re.match(r"[,;:?()]", text[m.end():m.end() + 1] or " ") and run:
                spans.append((run[0][0], run[-1][1]))
                run = []
        if run:
            spans.append((run[0][0], run[-1][1]))
        return spans
    pos = 0
    for c in concepts_of(text):
        pattern = re.compile(r"\.?\s+".join(re.escape(w) for w in c.text.split()) + r"\.?")
        m = pattern.search(text, pos) or pattern.search(text)
        if m:
            spans.append((m.start(), m.end()))
            pos = m.end()
    return spans


def strip_mentions(span: tuple[int, int], text: str, mentions: Sequence[Mention]) -> list[tuple[int, int]]:
    """The word runs of `span` outside the given mentions ("U.S. auto-parts imports" without "U.S.")."""
    pieces: list[tuple[int, int]] = []
    start = span[0]
    for m in sorted(mentions, key=lambda x: x.start):
        if m.end <= span[0] or m.start >= span[1]:
            continue
        if m.start > start:
            pieces.append((start, m.start))
        start = max(start, m.end)
    if start < span[1]:
        pieces.append((start, span[1]))
    out = []
    for a, b in pieces:
        a += len(re.match(r"(?:['’]s\b)?\W*", text[a:b]).group(0))
        while b > a and not text[b - 1].isalnum():
            b -= 1
        if b > a and re.search(r"[A-Za-zÀ-ÿ]", text[a:b]):
            out.append((a, b))
    return out


def topics(text: str) -> list[tuple[int, int]]:
    """Concept spans that are about a topic: without the parties, years, identifiers, documents and
    time words inside them, nor a verb right after "who" ("Who publishes ...") or after a named
    subject ("How many trucks does Mexico export ...")."""
    noise = parties(text) + years(text) + refs(text) + docs(text)
    verb = _verb_after_named_subject(text)
    out = []
    for span in concept_spans(text):
        for a, b in strip_mentions(span, text, noise):
            words = text[a:b].lower().split()
            if all(w in _TIME_WORDS for w in words):
                continue
            if (re.search(r"(?i)\bwho\s+$", text[:a]) or not text[:a].strip(" ¿")) and len(words) == 1:
                continue  # a verb ("Who publishes ...", "Summarize ...")
            if verb and (a, b) == verb:
                continue
            out.append((a, b))
    return out


def _verb_after_named_subject(text: str) -> tuple[int, int] | None:
    """The main verb of an English question whose subject, right after its auxiliary, is a party or
    a name ("How many trucks does Mexico export ...", "What does Canada's schedule charge ...": not
    "export", "charge"). A word there is a verb by English question syntax; other subjects ("does
    the quota grow") are left alone, since where they end is not known without a parser."""
    toks = tokens(text)
    aux = next((i for i, t in enumerate(toks[:6]) if t[2].lower() in _DO_AUX), None)
    if aux is None or aux + 1 >= len(toks):
        return None
    start = toks[aux + 1][0]
    named = [(m.start, m.end) for m in parties(text) if m.kind == "noun"] + name_runs(text)
    end = next((y for x, y in named if x == start), None)  # a party or name run starts with its "the"
    if end is None:
        return None
    m = re.match(r"(?:['’]s\s+(?:(?:USMCA|CUSMA|T-MEC|tariff)\s+)?schedule)?\s+([a-z][a-z\-]*)\b", text[end:])
    return (end + m.start(1), end + m.end(1)) if m else None


def with_article(text: str, a: int) -> int:
    """Where the phrase starting at `a` starts with its article and a possessive ("the brief's")."""
    m = re.search(r"(?:\b(?:the|el|la|los|las)\s+)?(?:\b[\w.\-]+['’]s\s+)?$", text[:a], re.I)
    if m and m.group(0) and not re.search(r"(?i)\b(?:what|it|that|who|there|here|let)['’]s\s+$", m.group(0)):
        return m.start()
    m = re.search(r"\b(?:the|el|la|los|las)\s+$", text[:a], re.I)
    return m.start() if m else a


def phrase_at(text: str, a: int, b: int) -> tuple[int, int]:
    """The noun phrase around a topic: the concepts and parties next to each other ("U.S." +
    "quota"), its article, one qualifying phrase ("for Canadian dried dairy products") and a
    parenthesis ("(US 6)")."""
    party_mentions = parties(text)
    concepts = concept_spans(text)
    # Spanish puts a party's adjective after its noun ("leche mexicana"); a party named right before
    # a noun belongs to the clause ("Exportamos a Canadá espesantes"), not to the phrase
    not_before = {(p.start, p.end) for p in party_mentions} if detect_language(text) == "es" else set()
    if not_before:
        starts = {x: y for x, y in not_before}
        concepts = [(_after_space(text, starts[x]), y) if x in starts and starts[x] < y else (x, y) for x, y in concepts]
    pieces = sorted(concepts + [(p.start, p.end) for p in party_mentions])

    def grow(a: int, b: int) -> tuple[int, int]:
        changed = True
        while changed:
            changed = False
            for x, y in pieces:
                if (x <= a < y or x < b <= y or (x > b and not text[b:x].strip(" ’'s")) or (
                        y < a and not text[y:a].strip() and (x, y) not in not_before)) and \
                        (min(a, x), max(b, y)) != (a, b):
                    a, b, changed = min(a, x), max(b, y), True
        return a, b

    a, b = grow(a, b)
    adj = next((p for p in party_mentions if p.end == b and p.kind == "adj"
                and re.fullmatch(r"(?i)mexican|canadian|american|u\.s\.", p.text)), None)  # English: before the noun
    noun = re.match(r"\s+([a-z][\w\-]+)\b", text[b:]) if adj else None
    if noun and noun.group(1) not in AUX | _JOIN | _WH and noun.group(1) not in _CLAUSE_WORDS:
        b += noun.end()  # "an originating Mexican good": the party's adjective wants its noun
    m = re.match(r"\s+(?:of|for|on|in|under|to|from|de|del|para|sobre)\s+(?:the\s+|el\s+|la\s+|los\s+|las\s+)?",
                 text[b:], re.I)
    if m:
        nxt = next(((x, y) for x, y in pieces if x == b + m.end()), None)
        if nxt and not _YEAR.fullmatch(text[nxt[0]:nxt[1]]):
            b = grow(*nxt)[1]
    paren = re.match(r"\s*\([^)]{1,30}\)", text[b:])
    if paren:
        b += len(paren.group(0))
    while b > a and text[b - 1] in ".,;:":
        if text[b - 1] == "." and re.search(r"\b(?:[A-Z]\.){2,}$", text[a:b]):
            break
        b -= 1
    return with_article(text, a), b


def _after_space(text: str, i: int) -> int:
    return i + len(text[i:]) - len(text[i:].lstrip())


def tokens(text: str) -> list[tuple[int, int, str]]:
    """Words with their offsets; "U.S." and "19 U.S.C." keep their dots."""
    out = []
    for m in re.finditer(r"(?:[A-Z]\.){2,}[A-Z]?|[\wÀ-ÿ§][\w’'\-À-ÿ]*(?:\.\d+)*", text):
        out.append((m.start(), m.end(), m.group(0)))
    return out


def name_runs(text: str) -> list[tuple[int, int]]:
    """Capitalised runs after the first word ("the Rapid Response Mechanism", "the USMCA Committee on
    Trade in Goods", "NAFTA"); joiners (of, on, in ...) only between capitalised words."""
    toks = tokens(text)[1:]
    runs: list[list[tuple[int, int, str]]] = []
    cur: list[tuple[int, int, str]] = []
    pending: list[tuple[int, int, str]] = []
    for t in toks:
        word = t[2]
        if word[0].isupper() and word.lower() not in AUX | _WH:
            cur += pending + [t] if cur else [t]
            pending = []
        elif cur and word.lower() in _JOIN and not pending:
            pending = [t]
        else:
            if cur:
                runs.append(cur)
            cur, pending = [], []
    if cur:
        runs.append(cur)
    out = []
    for r in runs:
        a, b = r[0][0], r[-1][1]
        b -= len(re.search(r"(?:['’]s)?$", text[a:b]).group(0))
        if text[a:b].lower() not in ("usmca", "cusma", "t-mec"):
            m = re.search(r"\bthe\s+$", text[:a], re.I)
            out.append((m.start() if m else a, b))
    return out


def subject(text: str) -> tuple[int, int] | None:
    """The grammatical subject of a question: the phrase after its first auxiliary ("What does
    USMCA Article 2.4 require?" -> "USMCA Article 2.4"; "Can demonstration equipment come ...")."""
    toks = tokens(text)
    if toks and (toks[0][2].lower() in _SUBORDINATE or (
            toks[0][2].lower() in _WH_ADVERBS and len(toks) > 1 and toks[1][2].lower() not in AUX)):
        return None  # "If a good is shipped ...": the auxiliary of a clause, not of the question
    for i, (_, _, w) in enumerate(toks[:6]):
        if w.lower() in AUX and i + 1 < len(toks):
            start = toks[i + 1][0]
            if toks[i + 1][2].lower() in ("the", "a", "an") and i + 2 < len(toks):
                start = toks[i + 2][0]
            if toks[i + 1][2].lower() in ("it", "they", "this", "that", "there", "we", "you", "i", "he", "she"):
                return None
            ref = next((r for r in refs(text) if r.start <= start < r.end or r.start == start), None)
            lead = re.match(r"(?:USMCA|CUSMA|T-MEC)\s+", text[start:])
            if ref:
                return (start if lead else ref.start), ref.end
            if text[start].isupper() and not parties(text[start:start + 15].split(" ")[0]):
                run = next(((x, y) for x, y in name_runs(text) if x <= start < y or text[x:start].strip() == "the"),
                           None)
                if run:
                    return run
            for x, y in concept_spans(text) + [(p.start, p.end) for p in parties(text)]:
                if x <= start < y or x == start:
                    x, y = phrase_at(text, x, y)
                    return (x, _before_participle(text, x, y)) if w.lower() in _BE else (x, y)
            return None
    return None


_BE = wordset("is are was were")
# "Is Canada's cheese quota limited to ...", "Are such goods exempted from ...": after "is", a run of
# content words that ends in a past participle before a preposition holds the predicate too
_PARTICIPLE = re.compile(r"\s+[a-z]+(?<!e)ed$")  # "limited", "waived"; not "seed", "feed"
_AFTER_PARTICIPLE = re.compile(r"\s*(?:(?:to|by|from|for|in|under|on|with|at|as)\b|[?,.]|$)", re.I)


def _before_participle(text: str, a: int, b: int) -> int:
    m = _PARTICIPLE.search(text[a:b])
    return a + m.start() if m and _AFTER_PARTICIPLE.match(text[b:]) else b
