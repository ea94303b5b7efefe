"""One analysis of the question, made once and passed down to retrieval, refusal and composition.

What a question asks is read here and nowhere else: its language and English form, the kind of
answer it wants (a figure, a date, a source, the brief's recommendations), the scope it narrows
itself to (the brief), the identifiers it names (articles, sections, annexes, tariff items,
proclamation clauses), its salient concepts (the phrases a passage must speak about to answer it)
and its parts (a two-part question asks two things). Later stages read the fields; none of them
parses the question again.

The patterns below are general English/Spanish question forms and the identifier syntax of the
documents (treaty articles, U.S. Code sections, tariff items); none names a question of any set.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from assistant.index.lexical import tokenize
from assistant.ingest.provisions import PROVISION_CODE
from assistant.retrieve.language import detect_language
from assistant.retrieve.translate import GLOSSED, english_gloss, typed_phrase, untranslated_words
from assistant.textutil import AUXILIARIES, STOPWORDS, collapse, fold, names, numbers, split_sentences

# ---- one word list of question vocabulary ------------------------------------------------------


# General English question vocabulary (verbs, adverbs, adjectives of asking and comparing): not
# topic words, so their absence from a passage says nothing about whether it answers. "cover",
# "pay" were added on the tuning sets (2026-12-06): the verbs of a question on what a line covers
# and what a good pays, which no tariff line says ("Canada covers waste oils", "product pay"):
# 200 analyses of single tuning questions changed, one decision (an answerable one now answered).
QUESTION_VOCABULARY = frozenset(tokenize(
    "be have do say get got make go goes went gone know take took taken see come came think look want give "
    "gave given use find tell ask seem feel try tried leave call keep kept let begin help show hear play run "
    "move live believe bring happen sit stand lose lost meet include continue set learn lead understand "
    "watch follow stop create speak read allow add spend open walk win offer remember consider appear buy "
    "wait serve send expect build stay fall reach remain suggest pass sell decide pull put mean means meant "
    "point turn face hold hit way ways thing things kind sort lot lots overall far ahead long often "
    "fast quick quickly big large larger small little main mainly mostly really actually already still yet "
    "ever never always even enough better best worse worst good bad new old first last next same different "
    "current currently recent recently today now bottom line side sides whole general generally specific "
    "specifically particular particularly exactly roughly approximately around nearly almost well right "
    "wrong sure true false able likely possible need needs needed instead elsewhere else compared compare "
    "comparison seems happens happened doing done told explain describe list give mention mentioned "
    "discuss discussed note noted require requires required happen happens cover covers covered pay pays paid"
))
# Words that say where to look or how to answer, not what about: "the brief", "the treaty",
# "recommend", "according to". A passage need not contain them to answer.
SCOPE_VOCABULARY = frozenset(tokenize(
    "brief report author quincy paper document documents text treaty agreement usmca cusma t-mec nafta "
    "recommend recommends recommended recommendation recommendations propose proposes proposed proposal "
    "suggest suggests suggested advise advises advice argue argues argued claim claims view views "
    "according source sources cite cites cited data figure figures question answer"
))

# ---- what kind of answer is wanted -----------------------------------------------------------

# One "wants a number" pattern: amounts, counts, shares, rates, sizes.
_QUANTITY = re.compile(
    r"\b(how (much|many|large|big|high|fast|far|long|often)|by how much|what (?:\w+ ){0,2}(share|percent|"
    r"percentage|proportion|portion|fraction)\b|(?:^|[.?!,;]\s)\W*what (?:\w+ ){0,2}(rate|amount|number|level|"
    r"ceiling|tariff|duty|value|total|volume|tonnage|quantity)s?\b(?! (?:restriction|limit|requirement|discount)s?\b)|cu[aá]nt[oa]s?|qu[eé] (porcentaje|parte|arancel|tasa|monto|valor|volumen|"
    r"cantidad))|\bas an? (?:share|percentage|proportion|fraction) of\b|"
    # "what is the current exchange rate", "what was Mexico's GDP growth rate": the head of what is
    # asked for is a measure, however many words qualify it
    r"\b(?:what|which) (?:is|was|are|were|will be|would be) (?:the |a |an )?(?:[\w'’.\-]+ ){0,4}?(?:rates?|amounts?|"
    r"numbers?|levels?|values?|totals?|prices?|costs?|tariffs?|duty|duties|shares?|percentages?|size|volumes?|"
    r"quantity|quantities|tonnage)\b"
    r"(?! (?:treatment|schedule|line|item|classification|provision|rule|restriction|limit|requirement|discount)s?\b)",
    re.I,
)
_COUNTED = re.compile(r"\bhow many\b", re.I)
_SHARE = re.compile(r"\bwhat (?:\w+ ){0,2}(share|percent|percentage|proportion|portion|fraction)\b|"
                    r"qu[eé] (porcentaje|proporci[oó]n|parte)", re.I)
# An amount of money: "how much money", a verb of paying or earning, or money a government takes in
# or gives out ("how much ... revenue has CBP collected", "¿cuánto ha recaudado ...").
_MONEY = re.compile(r"\bhow much (money|did \w+ (spend|invest|pay|earn|cost))|\bhow much (?:\w+ ){0,3}"
                    r"(spend|invest|paid|pay|cost|worth)\b|\bhow much (?:[\w.-]+ ){0,6}(revenues?|collected|"
                    r"raised|appropriated|funding|proceeds|refunded|reimbursed)\b|cu[aá]nto (dinero|invirti|gast|pag)|"
                    r"cu[aá]nto (?:\w+ ){0,3}(recaud|ingres|reembols)", re.I)
# Inside a sentence only the accented "cuándo" asks when: "cuando un país incorpora ..." is "when"
# as a conjunction, not a date asked for (an unaccented one still asks at the start of a question).
_DATE = re.compile(r"^\W*(when|cu[aá]ndo)\b|¿\s*cuando\b|\bwhen (?:did|does|do|will|was|were|is|are|has|have|had|"
                   r"would|could|should|can)\b|\b(what date|which year|in what year|what year|by what date|cuándo|"
                   r"en qu[eé] (a[nñ]o|fecha))\b", re.I)

# ---- scope and intent ------------------------------------------------------------------------

_NAMES_BRIEF = re.compile(r"\b(the brief|brief's|quincy|sankaran|the author|el informe|del informe|este informe)\b",
                          re.I)
_LEGAL_CUE = re.compile(
    r"\b(articles?|art\.|annex(es)?|appendix|chapter|sections?|u\.?s\.?c|implement(ing|ation) (act|law)|statute|"
    r"proclamations?|tariff (items?|lines?|schedule)|paragraph|clauses?|executive order|federal register|"
    r"artículos?|anexo|capítulo|secci[oó]n|ley|proclamaci[oó]n)\b|§",
    re.I,
)
_ASKS_FOR_SOURCE = re.compile(
    r"\b(which|what|who)\b[^?]*\b(stud(y|ies)|sources?|paper|report|survey|author|cite[sd]?|citing|data|"
    r"data ?(base|set)s?|outlets?|footnotes?|evidence)\b|"
    r"\bsource (for|of|behind)\b|\bbacks?\b|\bwhere\b[^?]*\bfrom\b|\bcomes? from\b|"
    r"\bwho (said|says|floated|proposed|argued|warned|noted|found|reported|covered|wrote|published)\b|"
    r"\b(fuente|estudio|medio|publicó|publicado|cita)\b|\bde d[oó]nde (sale|viene|proviene|salen|vienen)\b",
    re.I,
)
# "(fracción/lista) arancelaria" glosses as "tariff item"/"schedule list tariff"; "CUSMA schedule" is
# the treaty's schedule under Canada's name for it
_TARIFF_INTENT = re.compile(
    r"\b(tariff (?:item|line|schedule|rate|heading)s?|duty rates?|rate of duty|staging|subheading|"
    r"hs code|mfn rate|base rate|(?:cusma|usmca|t-mec) schedule|lista arancelaria)\b",
    re.I,
)
_REC_QUESTION = re.compile(
    r"\brecommend\w*|\bpropos\w*|\bsuggest\w*|\badvi[sc]\w*|\bway ahead\b|\bway forward\b|"
    r"\bwhat should (?:the u\.?s\.?|the united states|washington|the administration|the us)\b[^?]*\bdo\b|"
    r"\brecomien\w*|\brecomend\w*|\bpropone\w*|\bpropuesta\w*|\bsugier\w*|\bsugerenc\w*|\baconseja\w*|"
    r"\bque deberia\w* hacer\b",
    re.I,
)
# The brief as the one who recommends, and others whose proposals are not the brief's.
_BRIEF_AGENT = re.compile(r"\b(?:brief|(?:the|this) report|author|quincy|sankaran|informe|autor|documento)\b", re.I)
_OTHER_AGENT = re.compile(
    r"\b(?:ustr|trade representative|president|congress|committee|commission|secretary|board|law|statute|"
    r"section|§|article|annex|proclamation|mexico|canada|oecd|uaw|union|sheinbaum|trump|greer|ebrard|"
    r"representante|presidenta?|congreso|comite|ley)\b",
    re.I,
)
# A second question joined by "and"/"y" plus a question word ("What is X, and how long does it last?").
_SECOND_QUESTION = re.compile(
    r"[,;]?\s+(?:and|but|also|y|e)\s+(?=(?:what|which|who|how|when|where|why|does|do|did|is|are|was|were|"
    r"qu[eé]|cu[aá]l(?:es)?|cu[aá]nt[oa]s?|c[oó]mo|cu[aá]ndo|d[oó]nde|qui[eé]n(?:es)?)\b)",
    re.I,
)
_SUBJECT_AFTER = re.compile(
    r"\b(?:on|about|regarding|concerning|for|in|sobre|en|acerca de|respecto a|respecto de|en materia de|para)\s+"
    r"(?:the\s+|el\s+|la\s+|los\s+|las\s+)?(.+?)\s*[?.!]*$",
    re.I,
)
# Where the brief is named after the subject ("..., in the brief's", "according to the report"): cut
# from a recommendation question's subject.
SCOPE_TAIL = re.compile(
    r"[\s,]*\b(?:among|in|according to|as per|per|from|of|by|entre|en|seg[uú]n|de|del)?\s*(?:the\s+|this\s+|el\s+|la\s+|las\s+|los\s+)?"
    r"(?:brief|report|informe|author|autor|quincy)(?:'s|’s)?\b.*$",
    re.I,
)
# "Did ... happen", "What was decided": an outcome, not what a text says.
_OUTCOME = re.compile(r"\b(did|was|were|happened|decided|ruled|agreed|came out|outcome|result(?:ed)?)\b", re.I)
# "What did the ITC's report conclude?", "¿Qué concluyó la evaluación?": the findings of a report or
# an inquiry. A text that requires the report ("the Commission shall submit a report assessing ...")
# does not give them. Not what a text holds ("What does the brief conclude?"), which the documents do.
# On the 1,310 tuning singles (twenty-second session) six questions ask findings: unanswerable
# refused 1 -> 5 of 5, the answerable one (a 2019 report a proclamation recounts) still answered; no
# tuning follow-up or Spanish pair asks one once "had to find" (a requirement) is left out.
_ASKS_FINDING = re.compile(
    r"\bwhat\s+(?:did|has|have|had)\s+(?P<en>[^?]*?)\s+(?:conclude|find|determine)\b|"
    r"\bwhat\s+(?:were|are)\s+(?:the\s+|its\s+|their\s+)?(?:findings|conclusions)\s+of\s+(?P<of>[^?,;]+)|"
    r"\bwhat\s+(?:were|are)\s+(?:the\s+|its\s+|their\s+)?(?:findings|conclusions)\b|"
    r"\bqu[eé]\s+(?:concluy[oó]|determin[oó]|encontr[oó]|hall[oó])\s+(?P<es>[^?,;]+?)(?:\s+(?:sobre|acerca|de que|respecto)\b|[?,;]|$)",
    re.I)


def _asks_finding(text: str) -> tuple[bool, str]:
    """Whether the question asks what a report or an inquiry found, and what it asks the findings
    of ("the ITC's report"), as typed. What an actor "had to find" is a requirement, which the
    texts state."""
    m = _ASKS_FINDING.search(text)
    if m is None or (m.group("en") and re.search(r"\b(?:have|has|had|need|needs|ought)\s+to$", m.group("en"))):
        return False, ""
    return True, next((g.strip() for g in (m.group("en"), m.group("of"), m.group("es")) if g), "")


# The question asks how things actually stand or have turned out up to now, not what a text says:
# static documents (a treaty, a statute, a brief of July 2025) seldom give such a figure. Measured as
# a refusal feature with a figure slot (bench/fit_refusal.py on the 11 tuning sets, each decided by a
# model fitted on the others): unanswerable refused 93 -> 111/205, false refusals 22 -> 19/569.
# Relative dates ("this year", "since then", "last year") are left out: with them the dev set's two
# questions on the brief's own events of that year were refused. "actual", "in practice",
# "efectivamente" (twenty-first session): on every tuning file they occur in 6 unanswerable questions
# asking a figure and in 4 answerable ones that ask none (a realized figure needs a figure slot).
# "realmente", "de verdad" (twenty-third session: "actually"): in 3 unanswerable single questions of
# the tuning files and in no answerable one. "today"/"hoy" (10 unanswerable, 0 answerable) are left
# out: "What rate does Canada charge today on butter?" asks the schedule's rate, which is answerable.
_REALIZED = re.compile(r"\b(so far|to date|actually|actual|in practice|currently|right now|as of now|hasta ahora|"
                       r"actualmente|en realidad|en la pr[aá]ctica|efectivamente|hasta la fecha|realmente|"
                       r"de verdad)\b", re.I)
_ABOUT_A_TEXT = re.compile(r"\b(brief|law|act|proclamation|article|section|annex|say|says|said|expects?|"
                           r"predicts?|requires?|required|deadline|scheduled|must|shall)\b", re.I)

# An asking sentence with a realized cue, in the past or the perfect ("Has Canada actually sent that
# notice?", "Which ones did Mexico actually notify?", "¿En qué años lo ha notificado de verdad?"):
# it asks whether something was done, which a rule does not record. Not when a text is what did or
# has something ("What did the implementing legislation actually require?"), not "have" as a main
# verb ("Which lines currently have a zero rate?"), and not what a party agreed or committed to
# ("What did Canada actually agree to on dairy?": the schedule is the agreement) unless the sentence
# asks since when or so far ("Since 2020, have two parties actually agreed to ..."). On the tuning
# singles (twenty-fifth session, rounds 1-26) 47 questions ask so, 45 of them unanswerable; the 2
# answerable ones ask what an RRM settlement delivered and when a tariff started to bite, which the
# brief and a proclamation report (the refusal rule reads the kind of the passages found:
# abstain.py).
# a text as the subject: its name, an identifier, then the verb ("did Article 2.9 actually require",
# "has the treaty changed", "when did that section take effect"), not a name that qualifies another
# noun ("have two USMCA countries agreed")
_A_TEXT = (r"(?:[\w'’.\-]+\s+){0,3}?(?:article|section|annex|chapter|paragraph|law|act|legislation|statute|"
           r"protocol|code|proclamation|schedule|brief|report|treaty|agreement|usmca|t-mec|text|provision|"
           r"rule|letter)s?(?:\s+[\w.\-()]*\d[\w.\-()]*)?\s+(?:actually|really|currently|ever|in fact|say|"
           r"require|provide|set|list|cover|mean|change|bind|do|take|took|enter|\w+ed|\w+en)\b")
_DONE = re.compile(
    rf"\bdid(?:n['’]t)?\s+(?!{_A_TEXT})"
    rf"|\b(?:has|have|had)(?:n['’]t)?\s+(?!to\b)(?!{_A_TEXT})(?:[\w'’\-]+\s+){{0,5}}?(?:\w+ed|\w+en|been|done|"
    r"made|met|sent|paid|set|held|put|spent|built|brought|won)\b"
    r"|\b(?:was|were)(?:n['’]t)?\s+(?:[\w'’\-]+\s+){0,2}?\w+ed\b"
    r"|\b(?:ha|han|hubo)\s+(?:\w+\s+)?\w+(?:ado|ido|to|cho|so)\b|\b\w+(?:ó|aron|ieron)\b", re.I)
_AGREED = re.compile(r"\b(?:agree[ds]?|commit(?:s|ted)?|undert(?:ake|ook|aken)|accept(?:ed)?|bound|bind|negotiated?|"
                     r"signed|establish(?:ed)?|require[ds]?|provided?|promised?|acord\w*|compromet\w*|"
                     r"comprometi\w*|establec\w*|exig\w*|dispuest\w*|fijad\w*|previst\w*)\b", re.I)
_SO_FAR = re.compile(r"\b(?:since|so far|to date|yet|hasta ahora|hasta la fecha|desde)\b", re.I)


def asks_whether_done(sentence: str) -> bool:
    """An asking sentence that asks whether something was actually done (see `_DONE`)."""
    return bool(_REALIZED.search(sentence) and _DONE.search(sentence)
                and (not _AGREED.search(sentence) or _SO_FAR.search(sentence)))


# ---- identifiers -----------------------------------------------------------------------------

_TARIFF_ITEM = re.compile(r"\b(\d{4})\.(\d{2})(?:\.(\d{2}))?\b")
_ARTICLE = re.compile(r"\b(?:article|art\.?|artículo)\s*(\d{1,2}\.\d{1,2})(?:\.(\d+))?", re.I)
# An annex numbered after its chapter, as typed: "Annex 23-A", "anexo 31–A", "Annex 10-B.1"
_ANNEX = re.compile(r"\b(?:annex(?:es)?|anexos?)\s+(\d{1,2})\s?[-\u2013\u2014]\s?([A-Z])(\.\d+)?\b", re.I)
_USC = re.compile(r"(?:§+|\bsections?|\bsec\.|\bU\.?S\.?C\.?)\s*(?:§+\s*)?(4[5-7]\d\d)\b", re.I)
_SUBSECTION = re.compile(r"(4[5-7]\d\d)((?:\([a-zA-Z0-9]+\))+)")
_PROCLAMATION_CLAUSE = re.compile(r"\bproclamation\s+(\d{5})\b.*?\b(?:clause|section|sec\.?|cl\.)\s*(\d+)", re.I)
_TREATY_CHAPTER = re.compile(
    r"\b(?:USMCA|CUSMA|T-MEC|NAFTA 2\.0)\s+(?:chapter|cap[ií]tulo)\s+(\d{1,2})\b|"
    r"\b(?:chapter|cap[ií]tulo)\s+(\d{1,2})\s+(?:(?:of|del?)\s+)?(?:the\s+)?(?:USMCA|CUSMA|T-MEC|agreement|treaty|"
    r"tratado)\b",
    re.I,
)
CHAPTERS_FILE = Path(__file__).resolve().parent / "data" / "usmca_chapters.json"


@lru_cache(maxsize=1)
def treaty_chapters() -> dict[str, dict[str, object]]:
    """The USMCA's chapters by number: title and the short names people call them by."""
    return json.loads(CHAPTERS_FILE.read_text(encoding="utf-8"))["chapters"]


@lru_cache(maxsize=1)
def _named_chapter_pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    """"the digital trade chapter", "chapter on macroeconomic policies", "el capítulo laboral":
    a chapter named by its subject rather than its number; and "the cosmetics sectoral annex", "the
    annex on prepackaged foods", "el anexo de dispositivos médicos": one of its annexes, by the
    annex's subject."""
    chapters = treaty_chapters()
    number_of = {fold(n): k for k, ch in chapters.items() for n in ch["names"]}  # type: ignore[union-attr]
    annex_of = {fold(n): k for k, ch in chapters.items() for n in ch.get("annex_names", ())}  # type: ignore[union-attr]
    names = "|".join(re.escape(n) for n in sorted(number_of, key=len, reverse=True))
    annexes = "|".join(re.escape(n) for n in sorted(annex_of, key=len, reverse=True))
    pattern = re.compile(
        rf"\b(?P<a>{names})\s+(?:chapter|article)s?\b|"
        rf"\bchapters?\s+(?:on|about|covering|for|of)\s+(?:the\s+)?(?P<b>{names})\b|"
        rf"\bcap[ií]tulos?\s+(?:(?:de|sobre|del)\s+)?(?:(?:la|el|los|las)\s+)?(?P<c>{names})\b|"
        rf"\b(?P<d>{annexes})\s+(?:sectoral\s+)?annex(?:es)?\b(?!\s+(?:\d|[ivx]+\b))|"
        rf"\b(?:sectoral\s+)?annex(?:es)?\s+(?:on|about|covering|for|of)\s+(?:the\s+)?(?P<e>{annexes})\b|"
        rf"\banexos?\s+(?:sectorial(?:es)?\s+)?(?:(?:de|sobre|del|para)\s+)?(?:(?:la|el|los|las)\s+)?(?P<f>{annexes})\b",
        re.I,
    )
    return pattern, {**annex_of, **number_of}  # no annex name is also a chapter name


_BARE_CHAPTER = re.compile(r"\b(?:chapter|cap[ií]tulo)\s+(\d{1,2})\b", re.I)
_NAMES_TREATY = re.compile(r"\b(?:USMCA|CUSMA|T-MEC|NAFTA 2\.0)\b")
_NAMES_CODE = re.compile(r"\b(?:U\.?S\.?C|title\s+19|t[ií]tulo\s+19|code|c[oó]digo|NAFTA)\b(?! 2\.0)", re.I)


def _bare_treaty_chapters(text: str) -> tuple[str, ...]:
    """"the USMCA's SOE disciplines in Chapter 22": a chapter number in a question about the treaty
    that names no other body of law (19 U.S.C. chapter 29, NAFTA's chapters) and no tariff line (the
    Harmonized System has chapters too: "vehicles of Chapter 87")."""
    if not _NAMES_TREATY.search(text) or _NAMES_CODE.search(text) or _TARIFF_ITEM.search(text) \
            or _TARIFF_INTENT.search(text) or re.search(r"(?i)\b(?:schedule|heading|harmonized|HS)\b", text):
        return ()
    return tuple(m.group(1) for m in _BARE_CHAPTER.finditer(text) if m.group(1) in treaty_chapters())


# Instruments other than the treaty that have annexes of their own ("the annex to the proclamation").
_OTHER_INSTRUMENT = re.compile(
    r"\b(?:proclamation|proclamaci[oó]n|executive\s+order|orden\s+ejecutiva|decree|decreto|HTSUS|HTS|WTO|OMC)\b", re.I
)


def named_chapters(text: str) -> tuple[str, ...]:
    """The numbers of the treaty chapters a question names by subject. An annex counts only in a
    question that names the treaty and no other instrument with annexes of its own."""
    pattern, number_of = _named_chapter_pattern()
    folded = fold(text)
    treaty_annex = bool(_NAMES_TREATY.search(text)) and not _OTHER_INSTRUMENT.search(text)
    out = []
    for m in pattern.finditer(folded):
        if (m.group("d") or m.group("e") or m.group("f")) and not treaty_annex:
            continue
        out.append(number_of[next(g for g in m.groups() if g)])
    return tuple(dict.fromkeys(out))


# The implementing law named as such (beside a section number, `_USC`): "the implementing act", "the
# U.S. Code", "la ley de implementación".
_NAMES_LAW = re.compile(
    r"\b(?:U\.?S\.?\s+Code|United\s+States\s+Code|t[ií]tle\s+19|t[ií]tulo\s+19|"
    r"implement(?:ing|ation)\s+(?:act|law|legislation|statute)|statute\s+implementing|"
    r"ley\s+(?:de\s+(?:implementaci[oó]n|aplicaci[oó]n)|que\s+implementa)|"
    r"c[oó]digo\s+de\s+(?:los\s+)?(?:EE\.?\s*UU|Estados\s+Unidos))",
    re.I,
)
# Other trade agreements, which number annexes after their chapters too ("CPTPP Annex 9-B").
_OTHER_AGREEMENT = re.compile(r"\b(?:CPTPP|TPP|KORUS|CETA|GATT)\b")


def annex_chapter(annex: str) -> str:
    """The chapter an annex is numbered after: "23-A" -> "23"."""
    return annex.split("-")[0]


def chapter_annexes(text: str) -> tuple[str, ...]:
    """"Annex 23-A", "el Anexo 31-A" ("23-A", "31-A"): an annex numbered after its treaty chapter is
    part of that chapter, so a question on the annex of a chapter the index lacks is refused like one
    on the chapter (`answer.abstain.missing_chapters`). Not in a question that names another
    instrument or agreement with annexes of its own, nor in one that asks what the implementing law
    says of the annex ("Under 19 U.S.C. § 4644, how often must the committee assess compliance with
    Annex 23-A?"): the law is indexed and names its annexes, so coverage decides. The treaty need not
    be named, unlike an annex named by its subject: a number like "23-A" is the USMCA's. Measured
    with the dash fold of `index.lexical` on the 982 tuning questions either change can reach
    (rounds 1-38; 26 name such an annex): answerable refused 25 -> 20 of 767, unanswerable refused
    161 of 215 before and after."""
    if _OTHER_INSTRUMENT.search(text) or _OTHER_AGREEMENT.search(text) or _NAMES_LAW.search(text) \
            or _USC.search(text):
        return ()
    annexes = (f"{m.group(1)}-{m.group(2).upper()}{m.group(3) or ''}" for m in _ANNEX.finditer(text))
    return tuple(x for x in dict.fromkeys(annexes) if annex_chapter(x) in treaty_chapters())


_PARTY = r"(Mexico|Mexican|Canada|Canadian|United States|U\.S\.|US|American)"
_PARTY_ES = r"(?i:(canad[aá]|canadiense|m[eé]xico|mexicana|ee\.?\s?uu\.?|estados unidos(?!\s+mexicanos)|estadounidense))"
# A party's schedule named as the place to look: "Schedule" as the treaty capitalises it ("the U.S.
# Schedule to Annex 2-B"), the party as typed; in Spanish "la lista (arancelaria) de Canadá". Read on
# the question as typed, never on a gloss, whose word order is the Spanish one ("sugar Mexican
# schedule list" for "azúcar mexicano en su lista").
_PARTY_SCHEDULE = re.compile(
    rf"\b{_PARTY}(?:['’]s)?(?:\s+(?:and|or)\s+{_PARTY}(?:['’]s)?)?\s+(?:(?:USMCA|CUSMA|T-MEC|tariff|tariffs)\s+){{0,2}}"
    rf"(?i:schedules?)\b|"
    rf"\b(?i:schedule)(?:\s+list)?\s+(?:of\s+)?(?:the\s+)?{_PARTY}(?![\w.])|"
    # "la lista de México", "la lista (de desgravación) arancelaria de México", "el calendario de
    # desgravación de México": the treaty's Spanish text calls a schedule a "Lista de Desgravación"
    rf"(?i:\b(?:listas?(?:\s+de\s+desgravaci[oó]n)?|(?:calendarios?|programas?)\s+de\s+desgravaci[oó]n)\s+"
    rf"(?:arancelarias?\s+|de\s+aranceles\s+)?(?:del?\s+(?:T-MEC|TMEC|USMCA|CUSMA)\s+)?(?:del?\s+(?:los\s+)?)?)"
    rf"{_PARTY_ES}(?i:\s+(?:y|o)\s+(?:la\s+)?(?:del?\s+(?:los\s+)?)?{_PARTY_ES})?"
)
# As typed in English, up to three words may stand between ("Mexico's own Annex 2-B schedule"), none
# a party.
_PARTY_SCHEDULE_TYPED = re.compile(
    rf"\b{_PARTY}(?:['’]s)\s+(?:(?!{_PARTY}(?![\w.]))[\w\-]+\s+){{0,3}}?(?i:schedule)\b"
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_UNITED_STATES = re.compile(r"\bUnited States\b", re.I)


def party_name(word: str) -> str:
    """"Mexican", "México" -> "Mexico", "U.S.", "EE. UU." -> "the United States"."""
    n = fold(word).lower().rstrip(".")
    return "Mexico" if n.startswith("mexic") else "Canada" if n.startswith("canad") else "the United States"


# ---- concepts --------------------------------------------------------------------------------

# A number grouped by thousands ("11,000", "4,303.5", a range "2,000–3,000", "9,600-tonne") is one
# word: cut at its comma, "000 tonnes" became a concept no sentence could cover.
_WORD = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?:[–-]\d{1,3}(?:,\d{3})+(?:\.\d+)?)?(?![\d,])(?:-[A-Za-zÀ-ÿ][\w’']*)*|[A-Za-zÀ-ÿ0-9§][\w’'.\-§]*[\w§]|[A-Za-zÀ-ÿ0-9]")
_JOINERS = frozenset({"of", "de", "del"})  # "rules of origin", "Secretary of Labor" stay one phrase


@dataclass(frozen=True)
class Concept:
    """A phrase of the question a passage must speak about to answer it ("softwood lumber duties")."""

    text: str  # as typed, or for a question in another language as its gloss has it
    terms: tuple[str, ...]  # index tokens (stems, numbers, identifiers)
    typed: str = ""  # a gloss's concept: the words of the question it comes from, as typed

    @property
    def named(self) -> str:
        """How a refusal names it: in the user's words ("Polos de Desarrollo Económico para el
        Bienestar", quoted), not the gloss's ("Polos development economic Bienestar")."""
        return f"“{self.typed}”" if self.typed and self.typed != self.text else self.text


def _is_content(word: str) -> bool:
    toks = tokenize(word)
    return bool(toks) and any(t not in QUESTION_VOCABULARY and t not in SCOPE_VOCABULARY for t in toks)


_DO_SUPPORT = frozenset({"do", "does", "did"})
# as typed: "IT equipment" is no pronoun
_SUBJECT_PRONOUNS = frozenset({"it", "It", "they", "They", "he", "He", "she", "She", "we", "We", "you", "You", "I"})
# "this" and "that" are left out of the determiners: "does that cover cabotage" has a pronoun subject
_DETERMINERS = frozenset({"the", "a", "an", "these", "those", "its", "their", "his", "her", "our", "your", "any",
                          "each", "every", "some"})
_OBJECT_OPENERS = _DETERMINERS | {"it", "them"}
# function words that are verbs themselves: a subject run that meets one has its verb
_VERB_STOPWORDS = AUXILIARIES | {"say", "says", "said", "be", "been", "being", "doing"}
# Words that open a modifier of the subject ("the drawback cap in Article 2.5 apply", "the chapter
# that Mexico proposed"): a run they follow is not taken to end with its verb.
_POSTNOMINAL = frozenset({"in", "for", "from", "at", "of", "on", "with", "to", "under", "that", "which", "who",
                          "whose", "where", "when"})
_ADVERBS = frozenset({"also", "just", "only", "too", "very", "then", "now", "once"})
# what may come before a question word that opens its own clause ("..., and which country hosted")
_CLAUSE_OPENERS = frozenset({"and", "or", "but", "so", "then"})


def _clause_break(gap: str) -> bool:
    return bool(re.search(r"[?!,;:()“”\"]", gap) or (gap.strip(" ") and not gap.strip(" ").startswith(("-", "’", "'"))
                                                     and "." in gap))


def _plural(word: str) -> bool:
    w = word.lower()
    return w.endswith("s") and not w.endswith(("ss", "us", "is", "'s", "’s"))


def _bare_verb(word: str) -> bool:
    """After "do/does/did" the verb is bare: "canes pay", never "canes pays", "paying" or "paid"."""
    return word.isalpha() and word.islower() and not _plural(word) and not (
        word.endswith("ing") and len(word) > 5) and not (word.endswith("ed") and not word.endswith("eed"))


def _name(word: str) -> bool:
    """A proper name that can be a whole subject ("Mexico", "CBP"): not a possessive, not a
    compound adjective ("U.S.-origin") or a nationality ("Mexican", "Chinese"), not a scope word
    ("USMCA")."""
    terms = tokenize(word)
    return word[:1].isupper() and not word.endswith(("'s", "’s")) and not re.search(r"-[a-z]", word) \
        and not re.search(r"(?:an|ese|ish)$", word) and bool(terms) and not all(t in SCOPE_VOCABULARY for t in terms)


def _follows_verb(tokens: list[tuple[str, str]], k: int, *, strict: bool, after_name: bool = False) -> bool:
    """Whether the word at `k` fits right after a verb ending a do-support run: an object's first
    word ("... pay any duty"); unless `strict`, also the question's end ("... canes pay?") or a
    preposition that does not open a modifier of a noun ("... belong to"; not "in", "on", "with",
    "that": "the customs broker at the border", "the chapter that Mexico proposed"; after a name
    those a verb takes, "to", "on", "under", "with", are let through: "does Sheinbaum belong to").
    A run followed by a content word keeps it: "did Mexico ban glyphosate" may be "Mexico ban" +
    object or a noun phrase, and the shapes here cannot tell."""
    if k >= len(tokens):
        return not strict
    word, gap = tokens[k][0].lower(), tokens[k][1]
    if _clause_break(gap):
        return not strict and bool(re.search(r"[?.!;]", gap)) and not re.search(r"[,(]", gap)
    if word in _OBJECT_OPENERS:
        return True
    return not strict and word in STOPWORDS and word not in _VERB_STOPWORDS and word not in _ADVERBS \
        and (word not in _POSTNOMINAL or after_name and word in {"to", "on", "under", "with"}) \
        and word not in {"and", "or", "nor"} and not word.endswith("ly")


def _verb_positions(tokens: list[tuple[str, str]]) -> set[int]:
    """Where a question's main verb sits right after its subject, so that a concept does not run
    into it ("what duty do U.S.-origin canes pay", "which line of the schedule covers them"): a
    passage that states the duty never says "canes pay". English grammar, two shapes:
    - do-support, "do/does/did <subject> <verb>": after a pronoun, the first word; after a proper
      name with no article ("does Canada charge any duty"), the word after the name, and after a
      plural ("do U.S.-origin canes pay?"), the bare word after it, each when the question's end,
      an object's first word or a verb's preposition follows (`_follows_verb`); else the last word
      of a subject of two to four content words when an object's first word follows it;
    - a question word's own subject, "what/which <subject> <verb-s/-ed> the/them/...", in a clause
      of its own with no auxiliary.
    Without a part-of-speech model (none ships its weights in a wheel here) these shapes are
    conservative: an ambiguous run is left whole. `tokens`: (word, gap before it)."""
    n = len(tokens)
    lower = [w.lower() for w, _ in tokens]
    brk = [_clause_break(gap) for _, gap in tokens] + [True]
    clause_end = [n] * (n + 1)
    for k in range(n - 1, -1, -1):
        clause_end[k] = k + 1 if brk[k + 1] else clause_end[k + 1]
    content = [_is_content(w) for w, _ in tokens]
    verbs: set[int] = set()

    def subject_run(j: int) -> tuple[list[int], int]:
        """The words of a subject from j and where it stops: content words joined by "of", with
        scope words among them ("Canada's CUSMA schedule") and question words before them ("line
        of Canada's schedule")."""
        run, k, seen = [], j, False
        while k < n and (k == j or not brk[k]):
            if run and lower[k] in _JOINERS and k + 1 < n and not brk[k + 1] and lower[k + 1] not in STOPWORDS:
                k += 1
                continue
            if lower[k] in STOPWORDS:
                break
            if not content[k]:
                terms = tokenize(tokens[k][0])
                if seen and not (terms and all(t in SCOPE_VOCABULARY for t in terms)):
                    break
            seen = seen or content[k]
            run.append(k)
            k += 1
        return run, k

    for i, w in enumerate(lower):
        if w in _DO_SUPPORT:
            j, pronoun = i + 1, False
            while j < n and not brk[j] and (lower[j] in _DETERMINERS or tokens[j][0] in _SUBJECT_PRONOUNS
                                            or (pronoun and lower[j].endswith("ly"))):
                pronoun = pronoun or tokens[j][0] in _SUBJECT_PRONOUNS
                j += 1
            if j >= n or brk[j] or lower[j] in STOPWORDS:
                continue
            if pronoun:
                if content[j]:
                    verbs.add(j)
                continue
            run, k = subject_run(j)
            names = 0
            while j == i + 1 and names < len(run) and _name(tokens[run[names]][0]):
                names += 1
            if 0 < names < len(run):  # "does Canada charge any duty", "which party does Sheinbaum belong to"
                verb = run[names]
                if verb + 1 == k and _bare_verb(tokens[verb][0]) and content[verb] \
                        and _follows_verb(tokens, k, strict=False, after_name=True):
                    verbs.add(verb)
                continue
            while k + 1 < n and lower[k] in {"and", "or"} and not brk[k] and not brk[k + 1]:
                # "do its water-jet cutters and its plasma-arc machines land on ...": the verb
                # follows the last of the subjects joined
                j = k + 1
                while j < n and not brk[j] and lower[j] in _DETERMINERS:
                    j += 1
                if j >= n or brk[j] or lower[j] in STOPWORDS:
                    break
                run, k = subject_run(j)
            after_plural = next((y for x, y in zip(run, run[1:], strict=False) if y == x + 1 == k - 1
                                 and _plural(tokens[x][0]) and _bare_verb(tokens[y][0])), None)
            # a bare word after a plural is its verb ("canes pay"), and takes a verb's prepositions
            # as after a name ("machines land on")
            if after_plural is not None and content[after_plural] \
                    and _follows_verb(tokens, k, strict=False, after_name=True):
                verbs.add(after_plural)  # "what duty do U.S.-origin canes pay?"
                continue
            words = sum(content[x] for x in run)
            possessive = tokens[run[0]][0].endswith(("'s", "’s"))
            if 2 + possessive <= len(run) and words <= 4 and content[run[-1]] and _bare_verb(tokens[run[-1]][0]) \
                    and any(content[x] for x in run[:-1]) and _follows_verb(tokens, k, strict=True):
                verbs.add(run[-1])  # "does the duty-free volume grow the ..."
        elif w in {"what", "which"} and (i == 0 or brk[i] or lower[i - 1] in _CLAUSE_OPENERS):
            end = clause_end[i]
            asked_end = next((k for k in range(i + 1, n) if re.search(r"[?!;,]", tokens[k][1])), n)
            if any(lower[k] in AUXILIARIES for k in range(i + 1, max(end, asked_end))):
                continue  # "what steel products the U.S. imports ... are covered"
            j = i + 1
            while j < end and lower[j] in _DETERMINERS:
                j += 1
            if j >= end or lower[j] in STOPWORDS:
                continue
            run, k = subject_run(j)
            if len(run) >= 2 and content[run[-1]] and tokens[run[-1]][0].islower() \
                    and (_plural(tokens[run[-1]][0]) or lower[run[-1]].endswith("ed")) \
                    and k < end and lower[k] in _OBJECT_OPENERS:
                verbs.add(run[-1])  # "which line of Canada's schedule covers them"
    return verbs


def _opens_name(tokens: list[tuple[str, str]], index: int) -> bool:
    """A word of the question vocabulary ("new", "general") written with a capital inside a
    sentence, after a word that is not, and followed by a capitalised word opens a name
    ("landowners in New York", "General Motors"): splitting at it would cut the name to "York".
    Not a stop word ("Mexico And Canada") nor a word in a title-cased run ("Is There A Quota")."""
    word, gap = tokens[index]
    lower = word.lower()
    return 0 < index < len(tokens) - 1 and word[:1].isupper() and lower in QUESTION_VOCABULARY \
        and lower not in STOPWORDS and lower not in SCOPE_VOCABULARY and lower not in _QUESTION_WORDS \
        and not re.search(r"[.?!:;]", gap) and not tokens[index - 1][0][:1].isupper() \
        and tokens[index + 1][0][:1].isupper() and not tokens[index + 1][1].strip()


def concepts_of(text: str, *, english_grammar: bool = True) -> tuple[Concept, ...]:
    """Runs of content words, split at function words, question words, punctuation and the
    question's main verb (`_verb_positions`; `english_grammar=False` for a word-for-word gloss,
    which keeps its language's word order); "of" between two content words joins them. Scope
    words and question vocabulary are not concepts."""
    out: list[Concept] = []
    run: list[str] = []
    pending_joiner = ""

    def close() -> None:
        if run:
            phrase = " ".join(run)
            terms = tuple(t for t in tokenize(phrase) if t not in QUESTION_VOCABULARY and t not in SCOPE_VOCABULARY)
            if terms and phrase.lower() not in {c.text.lower() for c in out}:
                out.append(Concept(phrase, terms))
        run.clear()

    tokens: list[tuple[str, str]] = []
    last_end = 0
    for m in _WORD.finditer(text):
        tokens.append((m.group(0).rstrip("."), text[last_end:m.start()]))
        last_end = m.end()
    verbs = _verb_positions(tokens) if english_grammar else set()
    for index, (word, gap) in enumerate(tokens):
        if _clause_break(gap) or index in verbs:
            close()
            pending_joiner = ""
            if index in verbs:
                continue
        lower = word.lower()
        if lower in _JOINERS and run:
            pending_joiner = word
            continue
        # "New York", "New Brunswick": a capitalised stop word that opens a name is part of it
        if (lower in STOPWORDS or not _is_content(word)) and not (english_grammar and _opens_name(tokens, index)):
            close()
            pending_joiner = ""
            continue
        if pending_joiner:
            run.append(pending_joiner)
            pending_joiner = ""
        run.append(word)
    close()
    return tuple(out)


# ---- the analysis ------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionPart:
    """One thing a question asks: "..., and what about Canada?" has two parts."""

    text: str
    concepts: tuple[Concept, ...]
    slot: str


@dataclass(frozen=True)
class QueryAnalysis:
    """Everything later stages need to know about one question, computed once."""

    question: str  # as the user typed it (this turn)
    text: str  # the standalone question (after follow-up resolution)
    language: str  # ISO 639-1 ("en", "es", ...)
    english: str  # English wording used for term matching: the text itself, or its gloss
    search_text: str  # what the lexical and dense retrievers search
    asked: str  # the sentences that ask (a premise stated before them is left out)
    slot: str  # "quantity" | "date" | "" : the kind of fact the answer must contain
    share: bool = False  # a quantity that is a share or percentage
    money: bool = False  # a quantity that is an amount of money
    unit: frozenset[str] = frozenset()  # "how many tonnes": the stems the asked unit is written with
    unit_word: str = ""  # the unit as the question writes it ("tonnes", "toneladas")
    counted: str = ""  # "how many <counted>": the phrase naming the things counted
    intent: str = "fact"  # "fact" | "recommendation" | "source"
    subject: str = ""  # the subject of a recommendation question ("energy"; "all" when none)
    subject_implied: bool = False  # no "on X" named it: the question's own words were taken
    names_brief: bool = False  # the question asks about the brief itself
    names_legal: bool = False  # the question points at the treaty, the law or a proclamation
    wants_tariff_lines: bool = False
    scope: frozenset[str] | None = None  # document kinds the question narrows itself to
    identifiers: tuple[str, ...] = ()  # lookup keys, most specific first
    specific_refs: tuple[str, ...] = ()  # label fragments: "Art. 2.4.2", "§ 4611(b)"
    chapters: tuple[str, ...] = ()  # treaty chapter numbers asked about ("8"; "the labor chapter": "23")
    annexes: tuple[str, ...] = ()  # numbered annexes that stand for their chapter ("23-A": chapter 23)
    schedules: tuple[str, ...] = ()  # parties whose tariff schedule is asked about
    numbers: frozenset[str] = frozenset()
    asked_numbers: frozenset[str] = frozenset()  # those of the asked part (a premise's left out)
    # capitalised words and acronyms, folded ("rrm", "sheinbaum"), from the first asking sentence on
    # (a premise's names set the scene: `answer.evidence.name_evidence`)
    asked_names: tuple[str, ...] = ()
    years: tuple[str, ...] = ()
    outcome: bool = False  # asks what happened (not what a text says)
    asks_finding: bool = False  # asks what a report or an inquiry concluded
    finding_of: str = ""  # what it asks the findings of, as typed ("the ITC's report")
    realized: bool = False  # asks how things stand up to now ("so far", "actually", "currently")
    # The asking sentences that ask whether something was actually done ("Has Canada actually sent
    # that notice?"), and whether every asking sentence does
    realized_events: tuple[str, ...] = ()
    only_realized_events: bool = False
    concepts: tuple[Concept, ...] = ()
    parts: tuple[QuestionPart, ...] = ()
    translated: bool = False  # `english` is a gloss of another language
    # In a conversation, the thread's standalone questions up to the previous one (as typed, and
    # their English wording; `Understanding.thread`): retrieval searches them beside this turn at a
    # lower weight, so a follow-up that stands on its own words ("Does GAO have to weigh in too?")
    # still finds the passages of the thread's subject.
    context: str = ""
    context_english: str = ""
    # A follow-up read with its thread appended (its concepts and English words added to
    # the turn's; slot, names, numbers and identifiers stay the turn's): the refusal decision's second
    # reading of an elliptical turn ("Has it settled which of those comes first?"). None outside a
    # conversation.
    thread: QueryAnalysis | None = None
    follow_up: bool = False  # the turn was read against the previous question (not one of its own)
    # An English turn whose standalone question differs from what was typed (a follow-up the rule or
    # a model rewrote): the turn as typed, which the thread's search reads so that a rewrite gone
    # wrong loses nothing the user wrote ("" otherwise).
    typed_turn: str = ""
    # Stems of the words a gloss kept as typed that are not names ("tendría", "materia"): no English
    # passage can hold them, so refusal rules that read word rarity leave them out.
    untranslated: frozenset[str] = frozenset()

    @property
    def asks_for_source(self) -> bool:
        return self.intent == "source"

    @property
    def asks_for_figure(self) -> bool:
        return self.slot in ("quantity", "date")

    def with_search_text(self, search_text: str) -> QueryAnalysis:
        return replace(self, search_text=search_text)


@lru_cache(maxsize=1024)
def _asked(question: str) -> tuple[str, str, tuple[str, ...]]:
    """(the sentences that ask, the question from the first of them on, the asking sentences); the
    whole question for all three when none asks or what is asked is too short to stand alone. The
    segmenter cuts "¿EE. UU. tiene ...?" after "EE.": those pieces are joined again."""
    sentences: list[str] = []
    for a, b in split_sentences(question):
        if sentences and sentences[-1].rstrip().endswith("EE."):
            sentences[-1] = f"{sentences[-1]} {question[a:b]}"
        else:
            sentences.append(question[a:b])
    asks = [s.rstrip().endswith("?") for s in sentences]
    asked = " ".join(s for s, q in zip(sentences, asks, strict=True) if q)
    if len(asked.split()) < 4:
        return question, question, (question,)
    return asked, " ".join(sentences[asks.index(True):]), tuple(s for s, q in zip(sentences, asks, strict=True) if q)


def asking_sentences(question: str) -> tuple[str, ...]:
    """The sentences of `asked_part`, one by one."""
    return _asked(question)[2]


def asked_part(question: str) -> str:
    """The sentences of a question that ask (end with "?"); the whole text when none does, or
    when what is asked is too short to stand alone ("Per the brief, Mexico is special. Why?")."""
    return _asked(question)[0]


def after_premise(question: str) -> str:
    """The question from its first asking sentence on: what a premise before it sets out ("A Texas
    firm ships canes to Ontario. Which line ...?") is the scene, while a sentence after it still
    belongs to what is asked ("... build next year? I mean Tesla's plant.")."""
    return _asked(question)[1]


_MONTHS = frozenset(re.findall(r"\w+", "january february march april may june july august september october "
                                        "november december jan feb mar apr jun jul aug sep sept oct nov dec"))
_QUESTION_WORDS = frozenset(re.findall(r"\w+", "what which who whom whose when where why how is are do does did "
                                                "can could should would will may might has have had was were"))


def question_names(question: str) -> tuple[str, ...]:
    """Names of the question (per sentence, so no sentence's first word counts), possessives
    dropped, without months and question words: "RRM's" is "rrm"."""
    out: list[str] = []
    for a, b in split_sentences(question):
        out += [re.sub(r"['’]s$", "", n) for n in names(question[a:b])]
    return tuple(dict.fromkeys(n for n in out if n and n not in _MONTHS and n not in _QUESTION_WORDS))


# Units of measure a figure is asked in ("how many tonnes", "cuántas toneladas"), each with the ways
# the documents and the users write it: the Chapter 2 quota tables give "Aggregate Quantity (MT)".
# On the 1,310 tuning singles (twenty-second session): unanswerable refused 257 -> 260 of 451 (tonnes
# of milk powder, barrels of oil, megawatts, each answered with a dollar figure), answerable refused
# unchanged. A units library (pint) is not installed; these are the units questions use.
_MEASURES = tuple(frozenset(tokenize(words)) for words in (
    "tonnes tonne tons ton mt tonnage toneladas tonelada tonelaje tm",
    "kilograms kilogram kilos kilo kg kilogramos",
    "litres litre liters liter litros hectolitres",
    "barrels barrel bbl barriles",
    "megawatts megawatt mw gigawatts gw megavatios",
    "dozen dozens docenas docena",
    "gallons gallon galones",
    "pounds pound lbs lb libras",
))


def _asked_unit(counted: str) -> tuple[frozenset[str], str]:
    """The unit of "how many <unit> ..." (one of its first two words: "metric tonnes"), as every
    form it is written in, and the word the question uses; nothing when what is counted is no unit
    ("petitions")."""
    for word in counted.split()[:2]:
        forms = _measure(word)
        if forms:
            return forms, word
    return frozenset(), ""


def _measure(word: str) -> frozenset[str]:
    """Every form of the unit a word names ("tonnes": the tonnes forms), empty for no unit."""
    return next((m for m in _MEASURES if m & set(tokenize(word))), frozenset())


# A unit asked without "how many": "at what tonnage", "what's the annual tonnage", or named after a
# comma in a question that already asks for a figure ("how much sugar may enter, in tonnes?", "the
# quota volume, in tonnes, for 2024"). A unit elsewhere ("which line covers steel sold in metric
# tons", "is the quota counted in litres?") asks for no figure in it. Measured in the thirty-sixth
# session on the 4,579 questions of every tuning file (singles, pair twins, conversation standalones;
# dev, calibration, rounds 1-37): the asked unit or slot changed for 6 of them (the others only gained
# the new word forms), one more unanswerable question refused (a steel quota "at what tonnage"); the
# 3 answerable ones among the 6 are still answered.
_UNIT_ASKED = re.compile(r"\b(?:what|which)(?:['’]s|\s+(?:is|was|are|were))?(?:\s+the)?\s+(\w+)(?:\s+(\w+))?", re.I)
_UNIT_AFTER_COMMA = re.compile(r"[,(]\s*in\s+(?:metric\s+)?(\w+)\s*(?=[,)?]|$)", re.I)


def _unit_named(question: str, *, asks_figure: bool) -> tuple[frozenset[str], str]:
    """The unit a question asks its figure in when it does not count it ("what tonnage ...?"; ", in
    tonnes," only when it asks for a figure already)."""
    found = list(_UNIT_ASKED.finditer(question))
    if asks_figure:
        found += list(_UNIT_AFTER_COMMA.finditer(question))
    for m in found:
        for word in filter(None, m.groups()):
            forms = _measure(word)
            if forms:
                return forms, word
    return frozenset(), ""


def _counted(question: str, *, english_grammar: bool = True) -> str:
    """"how many U.S. troops ...": the first concept after "how many" ("troops"). Its words run on
    to the verb when no function word stops them ("American jobs depend"): which is the noun
    counted is left to the figure check, which looks for a number next to any of them."""
    m = _COUNTED.search(question)
    if m is None:
        return ""
    after = concepts_of(question[m.start() + len("how many"):], english_grammar=english_grammar)
    if not after:
        return ""
    words = after[0].text.split()
    # "metric tonnes of sugar may enter": the phrase ends before a modal or an auxiliary
    cut = next((i for i, w in enumerate(words) if w.lower() in AUXILIARIES), len(words))
    return " ".join(words[:cut] or words)


# "When USTR sends its lists, what must accompany each name?": a leading "when"/"cuando" clause that
# a question word follows after its comma is the condition, not the asked date.
_CONDITION = re.compile(
    r"^\W*(?:when|cuando)\b[^?,]*,\s*¿?(?=(?:what|which|who|whom|whose|how|why|where|does|do|did|is|are|"
    r"was|were|can|could|must|should|will|would|has|have|qu[eé]|cu[aá]l(?:es)?|c[oó]mo|qui[eé]n(?:es)?|"
    r"d[oó]nde|por qu[eé])\b)", re.I)


_LEADING_WHEN = re.compile(r"^\W*when\b", re.I)


# "When does a gift set count as originating?", "when are imports treated as a substantial share":
# a "when" in the present whose clause classifies something (counts as, qualifies, is treated/
# considered/deemed/regarded, is mandatory) asks under what conditions, not for a date; in the past
# or future it asks when the status began ("When did it become mandatory?"). Other present clauses
# still ask dates ("When does the quota reach zero?", "When does the requirement become
# mandatory?", "When is Mexico required to publish ...?": a phase-in or a deadline), and so does a
# status word that describes a noun ("When is the mandatory joint review?"). Read on the English
# tuning singles and conversations: 4 of the 8 conditional "when" questions use one, none of the
# 13 date ones. Spanish questions are read through their English gloss, which keeps the date.
_STATUS = re.compile(
    r"(?<!\bthe )(?<!\ba )(?<!\ban )(?<!\bthat )(?<!\bwhich )(?<!\bwho )"
    r"\b(?:counts?\s+as|qualif(?:y|ies)\b(?!\s+as\b)|(?:treated|considered|deemed|regarded)\b|(?<!\bbecome )(?<!\bbecomes )mandatory)", re.I)
_WHEN_PAST_OR_FUTURE = re.compile(r"\W*when\s+(?:\w+ly\s+)?(?:did|was|were|has|have|had|will)\b|\W*when['’]d\b", re.I)


def answer_slot(question: str) -> str:
    question = unicodedata.normalize("NFC", question)  # "cuándo" typed with a combining accent
    if _QUANTITY.search(question):
        return "quantity"
    text = _CONDITION.sub("", question, count=1)
    for m in _DATE.finditer(text):
        clause = re.split(r"[?,;]", text[m.end():], maxsplit=1)[0]
        if re.sub(r"^\W+", "", m.group(0)).lower().startswith("when") and _STATUS.search(clause) \
                and not _WHEN_PAST_OR_FUTURE.match(text, m.start()):
            continue  # the conditions of a status, not its date
        return "date"
    return ""


def identifiers_of(question: str) -> tuple[str, ...]:
    """Lookup keys named in the question, most specific first: Table 1 provisions, tariff items,
    articles, annexes, U.S. Code sections, proclamation clauses."""
    keys = [f"AG{m.group(1)}" for m in PROVISION_CODE.finditer(question)]
    for m in _TARIFF_ITEM.finditer(question):
        keys.append(f"{m.group(1)}.{m.group(2)}.{m.group(3)}" if m.group(3) else f"{m.group(1)}.{m.group(2)}")
    for m in _ARTICLE.finditer(question):
        keys.append(m.group(1))
    for m in _ANNEX.finditer(question):
        keys.append(f"annex {m.group(1)}-{m.group(2).upper()}")  # "Annex 10-B.1" is looked up as 10-B
    for m in _USC.finditer(question):
        keys.append(m.group(1))
    for m in _PROCLAMATION_CLAUSE.finditer(question):
        keys.append(f"{m.group(1)} cl. {m.group(2)}")
    return tuple(dict.fromkeys(keys))


def specific_refs_of(question: str) -> tuple[str, ...]:
    refs = [f"Art. {m.group(1)}.{m.group(2)}" for m in _ARTICLE.finditer(question) if m.group(2)]
    refs += [f"§ {m.group(1)}{m.group(2)}" for m in _SUBSECTION.finditer(question)]
    return tuple(refs)


def wants_tariff_lines(text: str, english: str = "") -> bool:
    """The question asks for tariff lines: it names a tariff item or asks for one, a rate or the
    treaty's schedule ("fracción arancelaria" glosses as "tariff item"). A party's schedule named
    asks for them too where that party's lines are indexed (`QueryAnalysis.schedules`)."""
    return any(p.search(t) for t in (text, english) if t for p in (_TARIFF_ITEM, _TARIFF_INTENT))


def recommendation_subject(question: str) -> str | None:
    """The subject of a question that asks what the brief recommends ("energy"; "all" when it
    names none); None when it asks about someone else's proposal or no recommendation at all."""
    found = _recommendation_subject(question)
    return found[0] if found else None


def _recommendation_subject(question: str) -> tuple[str, bool] | None:
    """(subject, implied): `implied` when no "on X" names it and the question's own words were
    taken for it ("Does the brief recommend bringing pharmaceutical manufacturing to Mexico?")."""
    folded = fold(question)
    if not _REC_QUESTION.search(folded):
        return None
    if not _BRIEF_AGENT.search(folded) and _OTHER_AGENT.search(folded):
        return None
    before, rest = _REC_QUESTION.split(question, maxsplit=1)
    # the subject ends with the sentence and the part that ask for the recommendation ("... for
    # those products, and which headings would they cover?": a second question is no part of it)
    first = split_sentences(rest)[:1]
    rest = _SECOND_QUESTION.split(rest[first[0][0]:first[0][1]] if first else rest, maxsplit=1)[0]
    m = _SUBJECT_AFTER.search(rest)
    if m and concepts_of(m.group(1)):
        return m.group(1).strip(), False
    # No "on X": the question's own words name the subject ("Is reshoring among the brief's
    # recommendations?"). Only a question with none left ("What does the brief recommend?") asks
    # for all of them.
    rest = SCOPE_TAIL.sub("", rest).strip(" ¿?.,;:!")
    if concepts_of(rest):
        return rest, True
    found = concepts_of(SCOPE_TAIL.sub("", before))
    return (" ".join(c.text for c in found), True) if found else ("all", False)


def split_parts(question: str) -> tuple[str, ...]:
    """The things a question asks: separate questions ("A? B?"), or a second question joined by
    "and"/"y" plus a question word ("What is X, and how long does it last?")."""
    pieces = [question[a:b] for a, b in split_sentences(question)]
    asked = [p for p in pieces if p.rstrip().endswith("?")] or [question]
    parts: list[str] = []
    for p in asked:
        parts += [s.strip(" ,;") for s in re.split(rf"{_SECOND_QUESTION.pattern}|\?\s+", p, flags=re.I)
                  if s.strip(" ,;?")]
    return tuple(parts) or (question,)


def asks_for_source(text: str) -> bool:
    """The question asks where a claim comes from (a study, a report, an outlet, an author)."""
    return bool(_ASKS_FOR_SOURCE.search(text))


# A short reply that opens a turn ("OK, and ...", "Fine, but ...", "Got it. What ...?", "Bien.
# ¿...?") acknowledges the last answer: it is no part of what is asked, and read as a concept it
# was named in refusals ("... do not discuss CVD duties, claw back AD or OK."). Closed-class words,
# like the stop words; only at the start of a turn, before a comma or a full stop.
_ACKNOWLEDGEMENT = re.compile(
    r"^\W*(?:ok(?:ay)?|fine|right|all right|alright|got it|great|thanks|thank you|understood|perfect|good|"
    r"bien|bueno|vale|perfecto|entendido|de acuerdo|gracias|muy bien|claro)\s*[,.!]\s*(?=\S)",
    re.I,
)


def without_acknowledgement(text: str) -> str:
    """The turn without a short reply that opens it ("OK, and can ..." -> "and can ...")."""
    m = _ACKNOWLEDGEMENT.match(text)
    return text[m.end():] if m else text


def analyze_question(
    question: str, standalone: str | None = None, context: str = "", *, follow_up: bool = False
) -> QueryAnalysis:
    """The product's analysis of a question: its language (py3langid, `retrieve.language`) and, in
    a language with a glossary, its English gloss (`retrieve.translate`), then `analyze`.
    `context`: the thread's standalone questions up to the previous one ("" for none). A short
    reply that opens the turn ("OK, ...") is left out."""
    text = without_acknowledgement((standalone or question).strip())
    language = detect_language(text)
    english = english_gloss(text) if language in GLOSSED else None
    # machine translation and cognates help matching, not coverage (translate.english_gloss)
    search = _UNITED_STATES.sub("U.S.", english_gloss(text, for_search=True)) if english else None
    a = analyze(question, standalone=text, language=language, english=english or None, search_text=search or None)
    if a.translated:
        a = replace(a, untranslated=frozenset(t for w in untranslated_words(text) for t in tokenize(w)))
    context = context.strip()
    if not context:
        return a
    context_language = detect_language(context)
    context_english = (english_gloss(context) if context_language in GLOSSED else None) or context
    context_english = _UNITED_STATES.sub("U.S.", context_english)
    a = replace(a, context=context, context_english=context_english)
    seen = {c.text.lower() for c in a.concepts}
    added = tuple(c for c in concepts_of(context_english, english_grammar=context_language not in GLOSSED)
                  if c.text.lower() not in seen)
    thread = replace(a, english=f"{a.english} {context_english}", concepts=a.concepts + added)
    question = question.strip()
    rewritten = collapse(without_acknowledgement(question)) != collapse(text)
    typed_turn = _UNITED_STATES.sub("U.S.", question) if rewritten and language == "en" and \
        detect_language(question) == "en" else ""
    return replace(a, thread=thread, follow_up=follow_up, typed_turn=typed_turn)


def analyze(
    question: str,
    *,
    standalone: str | None = None,
    language: str = "en",
    english: str | None = None,
    search_text: str | None = None,
    kinds_present: frozenset[str] | None = None,
) -> QueryAnalysis:
    """The analysis of `standalone` (the question after follow-up resolution; `question` when it
    is not a follow-up). `english` is the English wording when the question is in another language
    (a gloss); `search_text` what retrieval should search (default: the English wording).
    `kinds_present` are the document kinds in the index (a question about the brief is narrowed to
    the brief only when the brief is indexed)."""
    text = (standalone or question).strip()
    # one name for one party: the documents write "the U.S." and "the United States" alike
    eng = _UNITED_STATES.sub("U.S.", (english or text).strip())
    asked = asked_part(text)
    asked_eng = asked_part(eng) if english else asked
    events = tuple(s.strip() for s in asking_sentences(text) if asks_whether_done(s))
    # a gloss loses the comma that marks a leading "cuando" clause as the condition: its "when" goes
    slot = answer_slot(text) or answer_slot(_LEADING_WHEN.sub("", eng) if english and _CONDITION.match(text) else eng)
    counted = _counted(eng, english_grammar=not english)
    unit, unit_word = _asked_unit(counted)
    if not unit and slot in ("", "quantity"):
        unit, unit_word = _unit_named(asked_eng, asks_figure=slot == "quantity")
        slot = "quantity" if unit else slot
    rec_subject, implied = _recommendation_subject(text) or ("", False)
    source = asks_for_source(text)
    intent = "recommendation" if rec_subject else "source" if source else "fact"
    names_brief = bool(_NAMES_BRIEF.search(asked))
    finding, finding_of = _asks_finding(text)
    names_legal = bool(_LEGAL_CUE.search(text))
    # a Spanish question asks for tariff lines in its gloss ("fracción arancelaria": "tariff item")
    wants_lines = wants_tariff_lines(text, eng)
    scope = None
    if names_brief and not names_legal and (kinds_present is None or "brief" in kinds_present):
        scope = frozenset({"brief"})
    chapters = tuple(dict.fromkeys([*(m.group(1) or m.group(2) for m in _TREATY_CHAPTER.finditer(text)),
                                    *named_chapters(text), *_bare_treaty_chapters(text)]))
    # an annex stands for its chapter where the question does not name the chapter itself
    annexes = tuple(x for x in chapter_annexes(text) if annex_chapter(x) not in chapters)
    chapters = tuple(dict.fromkeys([*chapters, *(annex_chapter(x) for x in annexes)]))
    typed = [] if english else [party_name(m.group(1)) for m in _PARTY_SCHEDULE_TYPED.finditer(text)]
    schedules = tuple(dict.fromkeys([*(party_name(g) for m in _PARTY_SCHEDULE.finditer(text)
                                       for g in m.groups() if g), *typed]))
    def in_words_typed(concepts: tuple[Concept, ...]) -> tuple[Concept, ...]:
        return tuple(replace(c, typed=typed_phrase(text, c.text)) for c in concepts) if english else concepts

    grammar = not english  # a gloss keeps its own language's word order
    parts = tuple(QuestionPart(p, in_words_typed(concepts_of(p, english_grammar=grammar)), answer_slot(p))
                  for p in split_parts(asked_eng))
    return QueryAnalysis(
        question=question.strip(),
        text=text,
        language=language,
        english=eng,
        search_text=(search_text or eng).strip(),
        asked=asked,
        slot=slot,
        share=bool(_SHARE.search(text) or _SHARE.search(eng)),
        money=bool(_MONEY.search(text) or _MONEY.search(eng)),
        unit=unit,
        unit_word=unit_word,
        counted="" if english else counted,
        intent=intent,
        subject=rec_subject,
        subject_implied=implied,
        names_brief=names_brief,
        names_legal=names_legal,
        wants_tariff_lines=wants_lines,
        scope=scope,
        identifiers=identifiers_of(text),
        specific_refs=specific_refs_of(text),
        chapters=chapters,
        annexes=annexes,
        schedules=schedules,
        numbers=frozenset(numbers(text)),
        asked_numbers=frozenset(numbers(asked)),
        asked_names=() if english else question_names(after_premise(text)),
        years=tuple(dict.fromkeys(_YEAR.findall(text))),
        outcome=bool(_OUTCOME.search(text)) and not _ABOUT_A_TEXT.search(text),
        asks_finding=finding and not names_brief,
        finding_of=finding_of,
        realized=bool(_REALIZED.search(text) or _REALIZED.search(eng)),
        realized_events=events,
        only_realized_events=bool(events) and len(events) == len(asking_sentences(text)),
        concepts=in_words_typed(concepts_of(asked_eng, english_grammar=grammar)),
        parts=parts,
        translated=bool(english) and english.strip() != text,
    )

