"""Follow-up questions understood as standalone questions before retrieval.

Retrieval sees one question at a time, so "How many workers did it benefit?" must become "How many
workers did the Rapid Response Mechanism benefit?" first. Understanding a turn decides, from the
previous standalone question and the new turn, which slots the turn replaces and which it keeps:

- an elliptical turn ("And on labor?", "What about Canada?", "¿y en 2023?", "And Article 2.5?")
  is the previous question with the slots the fragment names swapped: the party (Mexico, Canada,
  the U.S.), the year, the identifier (article, section, annex, tariff item), the document (brief,
  treaty, law, proclamation, schedule) and the topic; every other slot is kept;
- a turn that is a question of its own but refers back ("Does it apply to Canada's schedule too?",
  "How long does it last?", "... total that year?") keeps its own frame (the figure it asks for,
  its verb) and gets the reference resolved: a pronoun becomes the previous question's subject
  (its identifier, a name, the topic after "about"), "that year" its year, "that investment" its
  phrase about investment;
- identifiers and years of the previous question that the turn does not replace are carried over
  whole ("Article 2.4", "19 U.S.C. § 4513(c)", "8542.31.00", "2024");
- a question that stands on its own is never rewritten; the previous question's subject is still
  returned as `context`, for retrieval to weigh below the turn's own words.

The slots come from `analyze()` (identifiers, years, concepts, recommendation subject); `slots`
locates them in the text, `fragments` swaps them for an elliptical turn. With an LLM backend the model rewrites the follow-up
(`rewrite_messages`) and the result is checked the same way: an identifier or year the rule would
keep and the model dropped is put back. History entries with role "understood" give the standalone
question a previous user turn was answered as (the user may have corrected it); without them the
earlier user turns are understood again, in order, so a chain of follow-ups keeps its topic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from assistant.answer import slots
from assistant.answer.fragments import append as _append
from assistant.answer.fragments import fill as _fill
from assistant.answer.prompts import rewrite_messages
from assistant.answer.slots import wordset
from assistant.retrieve.analysis import asks_for_source
from assistant.textutil import collapse, fold

if TYPE_CHECKING:  # the chat model is only a type here: importing langchain costs a second at CLI start
    from langchain_core.language_models import BaseChatModel

Turn = tuple[str, str]
UNDERSTOOD = "understood"  # history role: the standalone question the preceding user turn was answered as
MAX_REWRITE_CHARS = 400

# ---- the vocabulary of follow-ups (English and Spanish) -------------------------------------------

_CONNECTIVE = re.compile(
    r"^\s*(?:¿\s*)?(?:(?:and|but|so)\s+)?(?:what about|how about|what of|same for|and also|also|and|but|"
    r"y qué (?:hay )?(?:de|sobre|con)|qué (?:hay )?(?:de|sobre)|y en cuanto a|y|e|pero|también)\b[\s,:]*",
    re.I,
)
# A turn that starts like this asks a question of its own (it is not a fragment of the previous one).
_QUESTION_START = re.compile(
    r"^\W*(?:(?:de|en|a|con|para|por|desde|hasta|sobre|bajo|contra|durante|seg[uú]n|entre|from|in|to|for|on|at|by|"
    r"with|since|until|under|through|during|against|between)\s+"
    r"(?=(?:what|which|who|whom|whose|how|when|where|qu[eé]|cu[aá]l|cu[aá]les|qui[eé]n|qui[eé]nes|c[oó]mo|cu[aá]ndo|"
    r"d[oó]nde|cu[aá]nt[oa]s?)\b))?(?:what|which|who|whom|whose|how|when|where|why|does|do|did|is|are|was|were|can|could|should|"
    r"would|will|has|have|had|may|might|must|if|whether|qu[eé]|cu[aá]l|cu[aá]les|qui[eé]n|qui[eé]nes|"
    r"c[oó]mo|cu[aá]ndo|d[oó]nde|cu[aá]nt[oa]s?|por qu[eé]|es|son|est[aá]n?|hay|puede|pueden|debe|deben|si)\b",
    re.I,
)
_THAT_YEAR = re.compile(
    r"\b(?:(?:in|during|for)\s+)?(?:that|the same|that same)\s+year\b|\b(?:en\s+)?(?:ese|aquel|el mismo)"
    r"\s+año\b",
    re.I,
)
_THAT_REF = re.compile(
    r"\b(?:that|this|the same|the said)\s+(?:article|section|provision|annex|item|tariff item|line|tariff line|"
    r"clause|paragraph)\b|\b(?:ese|este|el mismo)\s+(?:art[ií]culo|anexo|p[aá]rrafo)\b|"
    r"\b(?:esa|esta|la misma)\s+(?:secci[oó]n|fracci[oó]n|disposici[oó]n)\b",
    re.I,
)
_DEMONSTRATIVE = re.compile(
    r"\b(?:that|this|these|those|the same|ese|esa|esos|esas|este|esta|estos|estas|dicho|dicha)\s+"
    r"(?P<noun>[A-Za-zÀ-ÿ][\w\-]*)",
    re.I,
)
_PRONOUN = re.compile(
    r"\b(?P<p>it|its|they|them|their|this|that|these|those|he|him|his|she|her|eso|esto|ello)\b(?!['’])", re.I
)
_PLURAL = wordset("they them their these those")
_ASKED_THING = re.compile(r"\W*(?:what|which)\s+(?P<np>(?:[\w\-]+\s+){0,3}[\w\-]+)\s+(?:" + "|".join(slots.AUX) + r")\s+\S", re.I)
# Words after "What" that ask for a kind, a part, a measure or a stance of something, or adverbs
# ("What else ..."), rather than name a thing "it" can be.
_NOT_A_THING = wordset("kind kinds type types sort sorts part parts one ones share percentage percent proportion "
                       "number amount level and or of year date day month time way role power stance view position "
                       "else exactly specifically precisely then now more really actually also just other")
_PERSONAL = wordset("he him his she her")
_POSSESSIVE = wordset("its their his her")
_SUBJECT_FORMS = wordset("it they he she this that these those eso esto ello")
# Words after which "that"/"this" is the pronoun, not a determiner.
_VERBISH = wordset("is was are were be been does do did has have had will would can could should may might must mean means "
    "cover covers apply applies bind binds include includes require requires say says allow allows affect "
    "affects change changes happen happens work works count counts last lasts take takes give gives need "
    "needs go goes come comes make makes set sets get gets matter matters cost costs leave leaves")
_PREPOSITIONS = wordset("of about for on with to from against under into over by at in like than de sobre para "
                          "con sin")
# Nouns after "this/these" that point at the present or at the brief itself, not back at the last turn.
_NOT_ANAPHORIC = wordset("year years day days week weeks month months time times moment period año años días "
                         "brief document report paper informe documento")
# A pronoun after this many topic words refers inside the question ("Is Mexico's trade surplus with the
# U.S. a sign it is gaming ..."); fewer ("the remedy it recommends") may refer back. Fitted on the
# tuning conversations (bench/questions/conversations.jsonl) and random pairs of dev questions.
_INSIDE_AFTER_WORDS = 3
# A turn this short that leans on something it does not name gets the previous subject in brackets.
_SHORT_TURN = 12
# "that number", "this claim", "esa cifra": a demonstrative before a common noun (not a conjunction
# "that the ...", "that Mexico ...") in a short source question refers to the previous answer
_BACK_REFERENCE = re.compile(r"\b(?:that|this|these|those|ese|esa|eso|esto|este|esta)\s+(?!(?:the|a|an|el|la|los|las)\b)"
                             r"[a-záéíóúñ]")
_SOURCE_TURN = 8
_CLAUSE_END = ("", "?", "!", ".", ",", ";")  # what may follow a pronoun that ends its clause
# Indefinite pronouns name nothing a later "it" could refer to ("Is there anything in it about ...").
_INDEFINITE = wordset("anything something everything nothing anyone someone everyone nobody anybody somebody "
                      "everybody algo nada alguien nadie todo")
# Reporting verbs: the subject of "What does the brief/the argument section say ..." is the source
# that speaks, not what the question is about; a later "it" is about what was said, unless it is the
# subject of such a verb itself ("So what does it advise?": the source).
_SAYING = wordset("say says said think thinks argue argues suggest suggests recommend recommends propose "
                  "proposes advise advises claim claims note notes mention mentions write writes describe "
                  "describes conclude concludes warn warns see sees view views dice dicen piensa recomienda "
                  "propone sugiere plantea")
# Parts of a document that speak like one (the documents themselves are slots.docs): "the argument section".
_DOCUMENT_PART = re.compile(r"(?i)\b(?:section|introduction|conclusion|summary|secci[oó]n|introducci[oó]n|"
                            r"conclusi[oó]n)\b")
# A clause boundary before a subject pronoun: "What is X, and how long does it last?" refers inside.
_CLAUSE = re.compile(r"(?:,|;|:|\b(?:and|but|because|before|after|when|while|if|unless|so|y|pero|porque|si|"
                     r"cuando)\b)", re.I)


# A turn that only swaps a slot under a condition or a comparison ("¿Y si vienen de México?", "And if
# they come from Mexico?", "Is it the same for Mexican casein?", "What if it's 2024?"): besides the
# parties, years and identifiers it names and the previous question's own words, only these light
# words (conditions, "the same", verbs of coming and being, pronouns) may appear.
_SWAP_LIGHT = wordset("if si what qué when cuando it its it's they them this that eso esto is are was were be "
                      "come comes came coming from for to of the a an in on too also same igual mismo misma "
                      "mismos mismas lo el la los las de del para a en es son sea sean fuera fueran vienen "
                      "viene vinieran viniera y and case caso then entonces también")
_SWAP_START = re.compile(r"^\W*(?:(?:and|but|y|pero)\s+)?(?:what\s+if|if|si|(?:is|are|was|would)\s+(?:it|that|this|they)"
                         r"(?:\s+be)?\s+(?:the\s+)?same|(?:es|sería|será)\s+(?:igual|lo\s+mismo))\b", re.I)
_SWAP_TURN = 8


# ---- the result --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Understanding:
    """How one turn was understood: the question to search and why."""

    question: str  # as typed
    standalone: str  # the question to search (the typed one unless it is a follow-up)
    previous: str = ""  # the previous standalone question ("" at the start of a conversation)
    follow_up: bool = False  # the turn was read against the previous question
    kept: tuple[str, ...] = ()  # what was carried over ("Article 2.4", "2024", "the brief")
    replaced: tuple[str, ...] = ()  # what the turn replaced ("party: Mexico -> Canada")
    context: str = ""  # the previous question's subject, for retrieval to weigh below the turn's own words
    method: str = "none"  # "none" (as typed), "rule" or "model"
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # the thread's standalone questions before `previous`, oldest first (a turn that continues it)
    earlier: tuple[str, ...] = ()

    @property
    def rewritten(self) -> bool:
        return collapse(self.standalone) != collapse(self.question)

    @property
    def continues(self) -> bool:
        """The turn is read against the previous question: rewritten, or leaning on it ("that
        request", "De esas, ...", a leading "And")."""
        return self.follow_up or (bool(self.previous) and follow_up_signals(self.question))

    @property
    def thread(self) -> str:
        """What retrieval weighs below the turn: the previous question, then (for a turn that
        continues the thread) the thread's earlier ones, latest first, so that a length limit
        cuts the oldest."""
        return " ".join((self.previous, *reversed(self.earlier))).strip()


# ---- what a pronoun refers to ---------------------------------------------------------------------


def _plural(text: str) -> bool:
    last = text.split()[-1] if text.split() else ""
    return bool(re.search(r"[a-z]s$", last)) and not last.endswith(("ss", "us", "is"))


def _speaker(text: str) -> tuple[int, int] | None:
    """The document a question quotes: its subject when it names a document or a part of one and a
    reporting verb follows it ("the argument section say ...", "the Quincy brief say ..."), with the
    document noun the subject leaves out; else the document it names. An actor that speaks ("GM
    warn ...", "Washington think ...") stays a referent."""
    subj = slots.subject(text)
    if subj is None:
        doc = slots.docs(text)
        return (doc[0].start, doc[0].end) if doc else None
    a, b = subj
    noun = re.match(r"\s+(\w+)", text[b:])  # "the Quincy" + " brief"
    if noun and (slots.docs(noun.group(1)) or _DOCUMENT_PART.fullmatch(noun.group(1))):
        b += noun.end()
    verb = re.match(r"\s+([\w’']+)", text[b:])
    if verb and verb.group(1).lower() in _SAYING and (slots.docs(text[a:b]) or _DOCUMENT_PART.search(text[a:b])):
        return a, b
    return None


def referent(previous: str, pronoun: str, *, speaker: bool = False) -> str:
    """What a pronoun of the next turn stands for in the previous question: its identifier, a
    party's schedule, its subject, the topic after "about", a name, or its first topic phrase. The
    source the previous question quotes ("What does the brief say about ...") is not what it is
    about; it is the referent only of a pronoun that itself speaks (`speaker`: "does it advise")."""
    p = pronoun.lower()
    text = re.sub(r"^\s*¿", "", previous.rstrip(" ?.!"))
    source = _speaker(text)
    if speaker and source is not None:
        return text[source[0]:source[1]].strip()
    tops = slots.topics(text)
    if p in _PERSONAL:
        # a name after "in"/"at"/"from" is a place ("a job in Monterrey"), one before a number a
        # heading ("Chapter 2"): neither is who "he" is
        people = [(a, b) for a, b in slots.name_runs(text) if " " not in text[a:b].strip()
                  and not text[a:b].isupper() and not slots.parties(text[a:b])
                  and not re.search(r"(?i)\b(?:in|at|from|to|near|en|desde)\s+$", text[:a])
                  and not re.match(r"\s+\d", text[b:])]
        nouns = [m.span() for m in re.finditer(r"\b(?:the\s+)?(\w+)\b", text) if m.group(1).lower() in slots.PERSON_NOUNS]
        for a, b in people + nouns:
            return text[a:b]
        who = re.match(r"(?i)\W*who\s+(.+?)(?:,|\s+and\s+(?:what|which|how|for)\b|$)", text)
        return f"the person who {who.group(1).strip()}" if who else ""
    if p in _PLURAL:
        plural = [s for s in tops if _plural(text[s[0]:s[1]])]
        if plural:
            a, b = slots.phrase_at(text, *plural[0])
            return text[a:b]
    refs = slots.refs(text)
    if refs and p not in _PLURAL:
        lead = re.search(r"(?:\b(?:USMCA|CUSMA|T-MEC)\s+)$", text[:refs[0].start])
        return text[lead.start() if lead else refs[0].start:refs[0].end]
    schedule = re.search(r"\S+\s+(?:(?:USMCA|CUSMA|T-MEC|tariff)\s+){0,2}schedule\b", text)
    if schedule and slots.parties(schedule.group(0)):
        return schedule.group(0)
    asked = _asked_thing(text) if p == "it" and not speaker else ""
    if asked:
        return asked
    candidates: list[tuple[int, int]] = []
    subj = slots.subject(text)
    person = r"(?i)^(?:the\s+)?(?:" + "|".join(slots.PERSON_NOUNS) + r")$"
    if subj and not slots.docs(text[subj[0]:subj[1]]) and not re.match(person, text[subj[0]:subj[1]]):
        candidates.append(subj)
    candidates += [(a, b) for a, b in slots.name_runs(text)
                   if (" " in text[a:b].strip() or text[a:b].isupper()) and not slots.parties(text[a:b])
                   and not re.match(person, text[a:b]) and not slots.docs(text[a:b])]
    candidates += [_about(text, tops)] if _about(text, tops) else []
    if subj and not re.match(person, text[subj[0]:subj[1]]):
        candidates.append(subj)
    outside = [(a, b) for a, b in tops if source is None or not (source[0] <= a < source[1])]
    for group in (outside, tops):
        singular = [s for s in group if not _plural(text[s[0]:s[1]])]
        candidates += [slots.phrase_at(text, *s) for s in (singular or group)[:1]]
    candidates = [(a, b) for a, b in candidates if text[a:b].strip() and text[a:b].strip().lower() not in _INDEFINITE]
    # the subject matter before the source that speaks; the source when the question names nothing else
    about = [(a, b) for a, b in candidates if source is None or not (source[0] <= a < source[1])]
    for a, b in about or candidates:
        number = re.match(r"\s+(?:No\.\s*)?\d[\d.\-]*\b", text[b:])  # "Proclamation 10908", "Chapter 2"
        return text[a:b + (number.end() if number else 0)].strip()
    return ""


def _asked_thing(text: str) -> str:
    """The thing a "What/Which <noun> did ... ?" question asks for, which "it" in the next turn
    names ("What tariff did the proclamation put on cars?" / "When did it start?"): a single noun
    phrase, not a kind or part of something ("What kind of organization is ..."), nor a plural or a
    coordination, which "it" cannot stand for."""
    m = _ASKED_THING.match(text)
    if not m:
        return ""
    words = m.group("np").split()
    if (any(w.lower() in slots.AUX or w.lower() in _NOT_A_THING for w in words) or _plural(m.group("np"))
            or not all(re.fullmatch(r"[a-z][\w\-]*", w) for w in words)):
        return ""
    return "the " + m.group("np")


def _about(text: str, tops: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The phrase after "about/on/regarding/sobre ..." (a recommendation's subject is one)."""
    for m in re.finditer(r"\b(?:about|regarding|concerning|on|sobre|acerca de|respecto a)\s+", text, re.I):
        first = next(((a, b) for a, b in tops if a >= m.end() and not re.sub(r"(?i)\b(?:the|its|their|la|el|los|las|sus?)\b", "",
                                                                              text[m.end():a]).strip()), None)
        if first:
            return slots.phrase_at(text, *first)
    return None


def subject_of(question: str) -> str:
    """What a question is about, for retrieval context: its identifiers, else what "it" would be."""
    q = collapse(question)
    refs = [r.text for r in slots.refs(q)]
    return "; ".join(refs) if refs else referent(q, "it")


# ---- deciding what the turn refers back to ---------------------------------------------------------


def _acknowledgement(text: str, at: int) -> bool:
    """The sentence around `at` is a short reply before the turn's question ("Got it. What ...?"):
    at most three words, ended by a full stop or an exclamation mark, a question after it. Alone
    ("Explain it.") it is the request."""
    start = max(text.rfind(c, 0, at) for c in ".!?") + 1
    ends = [i for i in (text.find(c, at) for c in ".!?") if i >= 0]
    end = min(ends) if ends else len(text)
    return end < len(text) and text[end] != "?" and "?" in text[end:] and len(text[start:end].split()) <= 3


def _external_pronoun(rest: str, start: int = 0) -> re.Match[str] | None:
    """The first pronoun from `start` on that refers outside the turn. A subject pronoun ("Does it
    apply ...", "... the remedy it recommends") does unless a clause boundary precedes it; an
    object or possessive one ("against it", "its rules") does when no phrase of matching number
    comes before it."""
    for m in _PRONOUN.finditer(rest, start):
        p = m.group("p").lower()
        before = rest[: m.start()]
        if _acknowledgement(rest, m.start()):
            continue  # "Got it." acknowledges the last answer
        if sum(len(before[a:b].split()) for a, b in slots.topics(before)) >= _INSIDE_AFTER_WORDS:
            continue  # a question that long names what its own pronouns refer to
        if not re.search(r"(?i)\b(?:what|which|who|how|when|where|why)\b", before) and re.search(
                r"(?i),\s*(?:what|which|who|how|when|where|why)\b", rest[m.end():]):
            continue  # "Across all its trade relationships, what is the administration ...": it comes later
        words = re.findall(r"[\w’'.]+", before)
        prev_word = words[-1].lower() if words else ""
        after = re.match(r"\s*([\w’']+|[?!.,;]|$)", rest[m.end():])
        after_word = (after.group(1) if after else "").lower()
        if p in ("this", "that", "these", "those"):
            if not (after_word in _VERBISH or after_word in _CLAUSE_END):
                continue  # a determiner ("that trade"): see _demonstrative
            if prev_word and prev_word not in slots.AUX and prev_word not in _PREPOSITIONS and len(words) > 1 \
                    and not re.match(r"(?i)^\W*(?:what|which|who|how|why|when|where)\b", before.strip()):
                continue  # "... says that ...": a conjunction
        object_form = after_word in _CLAUSE_END or after_word in _PREPOSITIONS or \
            after_word.endswith("ly")
        subject_form = p in _SUBJECT_FORMS and prev_word not in _PREPOSITIONS and not object_form
        if p in _PERSONAL or subject_form:
            if _CLAUSE.search(before) and _antecedent(before, p):
                continue
            if p not in _PERSONAL and _fronted_topic(before):
                continue  # "Sweet cherries specifically: does it ...": what the turn sets up, whatever its number
            if p in _PERSONAL and (_antecedent(before, p) or re.search(r"(?i)\bwho\b", before)):
                continue
            return m
        if _antecedent(before, p):
            continue
        return m
    return None


def _fronted_topic(before: str) -> bool:
    """The turn opens with a topic set off by a colon ("Alfalfa seed in particular: does it ..."):
    the thing it names is what a pronoun after it stands for, even when speakers let "it" stand
    for a plural ("Sweet cherries: is it duty-free?")."""
    head, colon, _ = before.partition(":")
    return bool(colon) and bool(slots.topics(head))


def _antecedent(before: str, pronoun: str) -> bool:
    """Whether `before` names something `pronoun` can refer to (by number; a person for he/she)."""
    if pronoun in _PERSONAL:
        words = [w for _, _, w in slots.tokens(before)][1:]
        return any(w[0].isupper() and not slots.parties(w) for w in words) or any(
            w.lower() in slots.PERSON_NOUNS for w in words)
    spans = [(a, b) for a, b in slots.topics(before)
             if not (re.fullmatch(r"(?i)\W*(?:what|who|which)\s+", before[:a]) and re.search(r"(?:ed|es)$", before[a:b]))
             and before[a:b].lower() not in _INDEFINITE]
    spans += [(p.start, p.end) for p in slots.parties(before)] + [(d.start, d.end) for d in slots.docs(before)]
    spans += slots.name_runs(" " + before)
    if pronoun in _PLURAL:
        return any(_plural(before[a:b]) or " or " in before[a:b] or " and " in before[a:b] for a, b in spans) or \
            len(slots.parties(before)) > 1
    return any(not _plural(before[a:b]) for a, b in spans)


def _demonstrative(rest: str, previous: str) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """"that investment" whose noun the previous question names: the span of the turn it covers and
    the phrase it stands for there. Of several phrases that name its first noun, the one sharing
    most of its words, the later on a tie (the one the last question asks about); the words it
    shares are replaced with it ("those Uniform Regulations": "the Uniform Regulations on rules of
    origin", not "... origin Regulations"), the rest stay. On the 704 tuning follow-ups (bench/
    conversation_rewrite.py, twenty-second session) six understood questions changed: two nearer
    their twins, one further (it had been near by accident), three as near."""
    for m in _DEMONSTRATIVE.finditer(rest):
        noun = fold(m.group("noun"))
        if not _determiner(rest, m.start(), m.group(0).split()[0]):
            continue
        if len(noun) < 3 or noun in _VERBISH or noun in _PREPOSITIONS or noun in _NOT_ANAPHORIC or noun == "same":
            continue
        end = next((b for a, b in slots.concept_spans(rest) if a == m.start("noun")), m.end())
        # its words without a possessive or a full stop ("that quota's volume": "quota", "volume")
        phrase = rest[m.start("noun"):end]
        words = [w for w in re.finditer(r"[\w\-]+", phrase) if not (w.group(0) == "s" and phrase[w.start() - 1] in "'’")]
        stems = [fold(w.group(0))[:-1] if fold(w.group(0)).endswith("s") else fold(w.group(0)) for w in words]
        best: tuple[int, tuple[int, int], list[bool]] | None = None
        for a, b in slots.topics(previous):
            shared = [bool(re.search(rf"\b{re.escape(st)}", fold(previous[a:b]))) for st in stems]
            if shared[0] and (best is None or sum(shared) >= best[0]):
                best = (sum(shared), (a, b), shared)
        if best:
            _, (a, b), shared = best
            n = next((i for i, hit in enumerate(shared) if not hit), len(shared))
            span_end = m.start("noun") + words[n - 1].end()
            return (m.start(), span_end), slots.phrase_at(previous, a, b)
    return None


def follow_up_signals(question: str) -> bool:
    """The turn opens with a connective, or leans on something outside itself (a pronoun with no
    antecedent, "that year", "this article", "those projects")."""
    q = collapse(question)
    conn = _CONNECTIVE.match(q)
    rest = q[conn.end():] if conn else q
    if conn and rest.strip(" ?¿!."):
        return True
    return bool(_THAT_YEAR.search(rest) or _THAT_REF.search(rest) or _external_pronoun(rest)
                or _demonstrative_np(rest))


def _demonstrative_np(rest: str) -> bool:
    """"those projects", "Has that balancing act ...": a demonstrative determiner (not the
    conjunction of "reported that Mexico ...")."""
    for m in re.finditer(r"\b(that|this|those|these|ese|esa|esos|esas)\s+([a-zà-ÿ][\w\-]{2,})", rest):
        noun = m.group(2).lower()
        if _determiner(rest, m.start(), m.group(1)) and noun not in _VERBISH and noun not in _NOT_ANAPHORIC \
                and not slots.docs(noun):
            return True
    return False


def _determiner(rest: str, start: int, word: str) -> bool:
    """"that" at `start` reads as a determiner: after an auxiliary or a preposition, or near the
    start ("What made that trade ..."), not after a verb ("request that additional parts ...")."""
    words = re.findall(r"[\w’']+", rest[:start])
    prev = words[-1].lower() if words else ""
    return word.lower() in ("those", "these", "esos", "esas") or not prev or prev in slots.AUX or \
        prev in _PREPOSITIONS or len(words) <= 2


def is_follow_up(question: str, previous: str = "") -> bool:
    """Whether the rule reads the turn against the previous standalone question."""
    return rewrite(question, previous).follow_up


# ---- the rule ---------------------------------------------------------------------------------------


def rule_rewrite(question: str, previous: str) -> str:
    """The deterministic standalone question for `question` after the previous standalone question."""
    return rewrite(question, previous).standalone


def rewrite(question: str, previous: str) -> Understanding:
    """The rule: which slots the turn replaces, which it keeps, and the standalone question."""
    q = collapse(question)
    previous = collapse(previous)
    if not previous or not q:
        return Understanding(q, q, previous)
    context = subject_of(previous)
    conn = _CONNECTIVE.match(q)
    rest = q[conn.end():] if conn else q
    swap = _slot_swap(q, previous) if conn or _SWAP_START.match(q) else None
    if swap:
        out, kept, replaced = _fill(previous, swap)
        if collapse(out).lower() != previous.lower():
            return Understanding(q, out, previous, True, kept, replaced, context, "rule")
    if conn and rest.strip(" ?¿!.") and _is_fragment(rest):
        out, kept, replaced = _fill(previous, rest)
        if collapse(out).lower() != previous.lower():
            return Understanding(q, out, previous, True, kept, replaced, context, "rule")
        return Understanding(q, q, previous, False, (), (), context)
    if asks_for_source(rest) and (_external_pronoun(rest) or _BACK_REFERENCE.search(rest)) \
            and len(rest.split()) <= _SOURCE_TURN:
        # "Who reported that?", "Where's that number from?": "that" is the previous question's
        # whole claim, not one of its phrases; its passage leads retrieval to the footnote
        claim = previous.rstrip(" ?")
        return Understanding(q, _append(q, f"({claim})"), previous, True, (claim,), (), context, "rule")
    resolved, kept = _resolve(rest, previous, spanish=q.lstrip().startswith("¿"))
    if resolved is None:
        return Understanding(q, q, previous, False, (), (), context)
    return Understanding(q, resolved, previous, True, kept, (), context, "rule")


def _slot_swap(turn: str, previous: str) -> str | None:
    """The slot phrases ("de México", "2024") of a short turn that asks the previous question again
    for another party, year or identifier under a condition or comparison, or None."""
    mentions = slots.parties(turn) + slots.years(turn) + slots.refs(turn)
    if not mentions or len(re.findall(r"[\w.\-’']+", turn)) > _SWAP_TURN:
        return None
    spans = [(m.start, m.end) for m in mentions]
    rest = "".join(" " if any(a <= i < b for a, b in spans) else ch for i, ch in enumerate(turn))
    known = {fold(w) for w in re.findall(r"[\w’']+", previous)} | {fold(w) for w in _SWAP_LIGHT}
    if any(fold(w) not in known for w in re.findall(r"[\w’']+", rest)):
        return None
    return " ".join(m.text for m in sorted(mentions, key=lambda m: m.start))


def _is_fragment(rest: str) -> bool:
    """"on labor", "Canada?", "cigars from Mexico", "diesel engines for vehicles, 8408.20.00": a
    piece of a question, not a question of its own."""
    if _QUESTION_START.match(rest) or re.search(r"\b(?:if|when|si)\b", rest, re.I):
        return False
    return 0 < len(re.findall(r"[\w.\-’']+", rest)) <= 8 and not _external_pronoun(rest)


def _resolve(rest: str, previous: str, *, spanish: bool) -> tuple[str | None, tuple[str, ...]]:
    """A turn that asks its own question, with what it refers back to resolved; None when it
    refers to nothing (it stands on its own)."""
    out = rest.strip()
    kept: list[str] = []
    prev = previous.rstrip()
    prev_years, prev_refs = slots.years(prev), slots.refs(prev)
    m = _THAT_YEAR.search(out)
    if m and prev_years:
        out = out[:m.start()] + ("en " if "año" in m.group(0).lower() else "in ") + prev_years[-1].text + out[m.end():]
        kept.append(prev_years[-1].text)
    m = _THAT_REF.search(out)
    if m and prev_refs:
        out = out[:m.start()] + prev_refs[0].text + out[m.end():]
        kept.append(prev_refs[0].text)
    demo = _demonstrative(out, prev)
    if demo:
        (start, end), (a, b) = demo
        phrase = prev[a:b]
        if not (re.match(r"(?i)(?:the|el|la|los|las)\s|\S+['’]s\s", phrase) or spanish):
            phrase = f"the {phrase}"
        out = out[:start] + phrase + out[end:]
        kept.append(prev[a:b])
    pos = 0
    for _ in range(2):  # "Can he decide not to grant it?": two references
        pm = _external_pronoun(out, pos)
        if pm is None:
            break
        p = pm.group("p")
        verb = re.match(r"\s+([\w’']+)", out[pm.end():])
        ref = referent(prev, p, speaker=bool(verb) and verb.group(1).lower() in _SAYING)
        if not ref or (kept and ref in kept and p.lower() not in _PERSONAL and ref in out):
            pos = pm.end()
            continue
        if p.lower() in _POSSESSIVE:
            ref = f"{ref}'" if ref.endswith("s") else f"{ref}'s"
        if ref.split()[0] in ("The", "El", "La", "Los", "Las") and pm.start() > 0:
            ref = ref[0].lower() + ref[1:]
        out = out[:pm.start()] + ref + out[pm.end():]
        kept.append(ref)
        pos = pm.start() + len(ref)
    unresolved = follow_up_signals(rest) and not kept and len(rest.split()) <= _SHORT_TURN
    if unresolved:
        context = subject_of(prev)
        if not context or context.lower() in out.lower():
            return None, ()
        out = _append(out, f"({context})")
        kept.append(context)
    if not kept:
        return None, ()
    own = slots.refs(rest)
    for r in prev_refs:
        if not own and r.value not in {x.value for x in slots.refs(out)}:
            out = _append(out, f"({r.text})")
            kept.append(r.text)
    if prev_years and not slots.years(rest) and not any(y.text in out for y in prev_years):
        out = _append(out, ("en " if spanish else "in ") + prev_years[-1].text)
        kept.append(prev_years[-1].text)
    out = out[0].upper() + out[1:]
    if spanish and not out.startswith("¿"):
        out = "¿" + out
    return out, tuple(dict.fromkeys(kept))


# ---- with a chat model --------------------------------------------------------------------------------


def restore_identifiers(rewritten: str, required: str) -> tuple[str, tuple[str, ...]]:
    """`rewritten` with the identifiers and years of `required` it dropped put back (a model's
    rewrite that lost "Article 2.4" or "2024")."""
    have = {r.value for r in slots.refs(rewritten)} | {y.text for y in slots.years(rewritten)}
    missing = [r.text for r in slots.refs(required) if r.value not in have]
    missing += [y.text for y in slots.years(required) if y.text not in have and y.text not in missing]
    if not missing:
        return rewritten, ()
    return _append(rewritten, f"({', '.join(dict.fromkeys(missing))})"), tuple(missing)


def understand(
    question: str,
    history: Sequence[Turn] | None,
    *,
    llm: BaseChatModel | None = None,
    max_turns: int = 6,
) -> Understanding:
    """How `question` is understood after `history` ((role, text) pairs: "user", "assistant", and
    optionally "understood" after a user turn). Without history the question is taken as typed."""
    question = collapse(question)
    turns = [(r, collapse(t)) for r, t in (history or []) if r in ("user", "assistant", UNDERSTOOD) and t and t.strip()]
    # the thread as far back as the conversation is read: `max_turns` (role, text) entries hold
    # half as many questions
    chain = thread_standalones(turns)[-max(1, max_turns // 2):]
    previous = chain[-1] if chain else ""
    rule = rewrite(question, previous)
    continues = rule.continues
    if continues:  # a question of its own starts a new thread: its context is the previous question
        rule = replace(rule, earlier=tuple(chain[:-1]))
    if llm is None or not continues:
        return rule
    warnings: list[str] = []
    chat = [(r, t) for r, t in turns if r in ("user", "assistant")][-max_turns:]
    try:
        reply = llm.invoke(rewrite_messages(question, chat)).text
        line = next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")
        line = re.sub(r"^(?:standalone question|question|rewritten question)\s*:\s*", "", line, flags=re.I)
        line = line.strip('"“” ')
        if line and len(line) <= MAX_REWRITE_CHARS:
            required = f"{rule.standalone} {question}"
            fixed, restored = restore_identifiers(line, required)
            if restored:
                warnings.append(f"the model's rewrite dropped {', '.join(restored)}; put back")
            return replace(rule, standalone=fixed, follow_up=True, kept=rule.kept + restored, method="model",
                           warnings=tuple(warnings))
        warnings.append("the model's rewrite of the follow-up was unusable; a rule rewrote it")
    except Exception as e:  # an unreachable backend must not stop the question
        warnings.append(f"could not rewrite the follow-up with the model ({type(e).__name__}); a rule rewrote it")
    return replace(rule, warnings=tuple(warnings))


def thread_standalones(turns: Sequence[Turn]) -> list[str]:
    """The standalone questions of the thread the last user turn belongs to, oldest first: a turn
    read against its predecessor (rewritten, or leaning on it: "that request", "De esas, ...")
    continues the thread, one that stands on its own starts a new one. A follow-up two turns
    into a thread often names only what the last turn left implicit; the thread's opening
    question still holds its subject. A question as the user corrected it ("understood") stands
    as written: when it differs from the rule's, it starts a new thread."""
    chain: list[str] = []
    for role, text in turns:
        if role == "user":
            u = rewrite(text, chain[-1] if chain else "")
            chain = [*chain, u.standalone] if u.continues else [u.standalone]
        elif role == UNDERSTOOD and (not chain or collapse(text) != collapse(chain[-1])):
            chain = [text]
    return chain


def standalone_question(
    question: str,
    history: Sequence[Turn] | None,
    *,
    llm: BaseChatModel | None = None,
    max_turns: int = 6,
) -> tuple[str, list[str]]:
    """(the question to search, warnings): `understand` for callers that need only the question."""
    u = understand(question, history, llm=llm, max_turns=max_turns)
    return u.standalone, list(u.warnings)
