"""Elliptical follow-ups ("And on labor?", "¿y en 2023?", "What about cigars from Mexico?"): the
previous standalone question with the slots the fragment names swapped and every other slot kept.

The fragment's party replaces the previous question's last other party (in the form the sentence
needs: "Mexican gearboxes", "from the U.S."), its year the last year, its identifier the identifier
of the same kind ("Article 2.4" -> "Article 2.5", or a bare "2.5"), its document the document, and
what is left of it (its topic words) the topic: after the same preposition ("on energy" -> "on
labor"), else the recommendation subject, else the last topic phrase.
"""

from __future__ import annotations

import re

from assistant.answer import slots
from assistant.answer.slots import wordset
from assistant.retrieve.analysis import analyze
from assistant.retrieve.language import detect_language
from assistant.textutil import collapse, fold

_PREPOSITION = re.compile(
    r"^(?:on|about|for|in|regarding|concerning|with|to|from|under|of|at|sobre|para|en|de|del|con|a|al|bajo|"
    r"acerca de|respecto a|respecto de)\s+",
    re.I,
)
_FILLER = re.compile(
    r"\b(?:too|also|as well|specifically|instead|then|in particular|though|please|"
    r"tambi[eé]n|entonces|en particular|espec[ií]ficamente|en cambio|por favor)\b",
    re.I,
)
# Heads a topic swap keeps: "auto-parts imports" + "what about steel?" -> "steel imports" (a closed list
# of generic trade nouns, checked on the tuning conversations bench/questions/conversations.jsonl).
_GENERIC_HEADS = wordset(
    "imports exports trade tariffs tariff duties duty quota quotas investment production jobs sector industry "
    "prices policy rules shipments flows sales rate rates"
)


def _party_form(target: slots.Mention, new: slots.Mention, text: str, spanish: bool) -> str:
    if spanish:
        if target.kind == "adj":
            return new.text if new.kind == "adj" else slots.ES_ADJ[new.value]
        return new.text if new.kind == "noun" and detect_language(new.text) != "en" else slots.ES_NOUN[new.value]
    if target.kind == "adj":
        return slots.EN_ADJ[new.value]
    form = slots.EN_NOUN[new.value]
    before = text[max(0, target.start - 4):target.start].lower()
    if form.startswith("the ") and (before.endswith(("the ", "-")) or text[target.end:target.end + 1] == "-"):
        form = form[4:]
    return form


def append(text: str, phrase: str) -> str:
    body = text.rstrip(" ?.!")
    return f"{body} {phrase}{text[len(body):].strip() or '?'}"


def _with_preposition(text: str, a: int, b: int) -> tuple[int, int]:
    """A mention with the preposition before it ("for Canada", "in 2023", "de México")."""
    m = re.search(r"\b(?:for|from|in|to|on|with|under|of|at|para|en|de|del|a|al|con|desde|bajo)\s+$", text[:a], re.I)
    return (m.start() if m else a), b


def _inside(spans: list[tuple[int, int]], pos: int) -> bool:
    return any(a <= pos < b for a, b in spans)


def fill(previous: str, fragment: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The previous question with the slots the fragment names swapped; the others kept."""
    spanish = detect_language(previous) == "es"
    frag = fragment.strip(" ?¿!")
    out = previous
    replaced: list[str] = []
    used: list[tuple[int, int]] = []
    for new in slots.parties(frag):
        used.append(_with_preposition(frag, new.start, new.end))
        others = [p for p in slots.parties(out) if p.value != new.value]
        if others:
            t = others[-1]
            out = out[:t.start] + _party_form(t, new, out, spanish) + out[t.end:]
            replaced.append(f"party: {t.text} -> {new.text}")
        elif not slots.parties(out):
            phrase = frag[used[-1][0]:used[-1][1]]
            out = append(out, phrase if phrase != new.text else ("para " if spanish else "for ") + new.text)
            replaced.append(f"party: + {new.text}")
    for new in slots.years(frag):
        used.append(_with_preposition(frag, new.start, new.end))
        olds = slots.years(out)
        if olds:
            out = out[:olds[-1].start] + new.text + out[olds[-1].end:]
            replaced.append(f"year: {olds[-1].text} -> {new.text}")
        else:
            out = append(out, ("en " if spanish else "in ") + new.text)
            replaced.append(f"year: + {new.text}")
    for new in slots.refs(frag) + _bare_numbers(frag, out):
        olds = slots.refs(out)
        t = next((r for r in olds if r.kind == new.kind), olds[0] if olds else None)
        if t is None:
            continue  # stays in the topic words, where the fragment put it
        used.append(_with_preposition(frag, new.start, new.end))
        text = t.text.replace(t.value, new.value) if new.kind == "bare" else new.text
        out = out[:t.start] + text + out[t.end:]
        replaced.append(f"identifier: {t.text} -> {text}")
    for new in slots.docs(frag):
        if _inside(used, new.start):
            continue
        used.append(_with_preposition(frag, new.start, new.end))
        olds = slots.docs(out)
        if olds and fold(olds[0].text) != fold(new.text):
            t = olds[0]
            det = t.text.split()[0]
            text = f"{det} {new.text}" if det.lower() in ("the", "this", "el", "la") and \
                new.text.split()[0].lower() not in ("the", "this", "el", "la") else new.text
            out = out[:t.start] + text + out[t.end:]
            replaced.append(f"document: {t.text} -> {new.text}")
        elif not olds:
            out = append(out, ("en " if spanish else "in ") + new.text)
            replaced.append(f"document: + {new.text}")
    topic, prep = _left_over(frag, used)
    if topic:
        out, what = _swap_topic(out, topic, prep, spanish)
        replaced.append(what)
    kept = [m.text for m in slots.refs(out) + slots.years(out) + slots.parties(out) + slots.docs(out)
            if m.text in previous and not any(m.text in r for r in replaced)]
    return out, tuple(dict.fromkeys(kept)), tuple(replaced)


def _bare_numbers(frag: str, previous: str) -> list[slots.Mention]:
    """"and 2.5?" after an article, "and 4514?" after a section: a number in the shape of the
    previous question's identifier."""
    known = {r.value for r in slots.refs(frag)}
    shapes = {"article": r"\d{1,2}\.\d{1,2}", "section": r"4[5-7]\d\d", "tariff": r"\d{4}\.\d\d(?:\.\d\d)?"}
    for r in slots.refs(previous)[:1]:
        if r.kind in shapes:
            return [slots.Mention(m.start(), m.end(), m.group(0), m.group(0), "bare")
                    for m in re.finditer(rf"(?<![\w.]){shapes[r.kind]}(?!\w)", frag)
                    if m.group(0) not in known and not re.fullmatch(r"(?:19|20)\d\d", m.group(0))]
    return []


def _left_over(frag: str, used: list[tuple[int, int]]) -> tuple[str, str]:
    """The fragment's topic words (without the slots already used) and its leading preposition."""
    keep = "".join(" " if _inside(used, i) else ch for i, ch in enumerate(frag))
    keep = collapse(re.sub(r"[,;:—–]+", " ", _FILLER.sub(" ", keep))).strip(" -'’.")
    prep = ""
    m = _PREPOSITION.match(keep)
    if m:
        prep, keep = m.group(0).strip().lower(), keep[m.end():]
    keep = re.sub(r"(?:\s+(?:and|or|y|o|the|el|la))+$", "", keep).strip()
    has_word = re.search(r"[A-Za-zÀ-ÿ]{2,}", keep)
    return (keep if has_word and (slots.topics(keep) or slots.concept_spans(keep)) else ""), prep


# English words that open a phrase of its own after a topic: a slot named after one of them ("from
# the U.S.", "into Canada", "under CUSMA", "before 2020") is kept, and the old topic ends before them.
_OPENER = wordset("from for to into in under with by at on going shipped sent exported imported before after during "
                  "since until through within between per than that which")
# "charge ... on", "any duty on", "put tariffs on": the goods a tariff question is about follow "on"
_CHARGE_ON = re.compile(r"(?i)\b(?:charges?|charged|charging|dut(?:y|ies)|tariffs?|rates?|levy|levies|put|puts|"
                        r"impose[sd]?|apply|applies)\b(?:\s+[\w’'.\-]+){0,3}?\s+on\s")
_DO_SUPPORT = re.compile(r"(?i)\b(?:did|does|do)\s+(?:(?:the|a|an|its|their)\s+)?$")  # before a subject
_AUX_NEXT = re.compile(r"\s+(?:" + "|".join(sorted(slots.AUX)) + r")\b", re.I)  # an auxiliary right after the phrase
_OPENER_REACH = 4  # words before the slot searched for its opener: "under the CUSMA schedule"
# Where the old topic's phrase surely ends: the end of the clause, a spaced dash, a comma before a
# question word or an auxiliary (a clause or a second question follows), or a time phrase.
_PHRASE_STOP = re.compile(
    r"[?!;:]|\s[—–]|[—–]\s|,?\s+(?:and|but|or)\s+(?:what|which|who|how|when|where|why|does|do|is|are|can|if)\b|"
    r",\s*(?:what|which|who|whom|whose|how|when|where|why|does|do|did|is|are|was|were|can|could|should|would|will|"
    r"must|may|might|has|have|had)\b|"
    r"\s+(?:(?:this|that|last|next|each|every)\s+(?:year|month|week|quarter)|so far|now|today|currently)\b|$", re.I)


def _before_verb(text: str, a: int, b: int, topic: str) -> int:
    """After "did"/"does", a subject phrase that runs to the end of its clause ends with the verb
    ("how many workers did the RRM cases benefit?", "... benefit in 2024?"): the phrase ends before
    it, and before a generic head it then ends with ("auto parts imports grow" -> "auto parts")."""
    words = text[a:b].split()
    rest = text[b:].lstrip()
    ends_clause = not rest or not rest[0].isalnum() or rest.split()[0].lower() in _OPENER
    if len(words) < 2 or not _DO_SUPPORT.search(text[:a]) or not ends_clause or words[-1].lower() in _GENERIC_HEADS:
        return b
    b = a + text[a:b].rstrip().rfind(" ")
    words = words[:-1]
    if len(words) >= 2 and words[-1].lower() in _GENERIC_HEADS and not any(
            w.lower() in _GENERIC_HEADS for w in topic.split()):
        b = a + len(text[a:b]) - len(words[-1]) - 1
    return b


def _phrase_end(text: str, b: int) -> tuple[int, list[slots.Mention]]:
    """Where the old topic's phrase that ends at `b` really ends, with its qualifiers ("helicopters,
    under 2,000 kg unladen", "cotton that has already been carded or combed", "generating sets"):
    at the end of its clause, or where a phrase of its own names a party, year, identifier, document
    or the agreement ("from the U.S.", "under CUSMA", "before 2020"). A slot that no opener
    introduces ends nothing it can be told apart from, so the phrase is not extended at all; a
    party adjective without one is inside the phrase ("light U.S. helicopters") and is returned,
    for the new topic to keep. (`slots.phrase_at` grows a phrase over concepts and one qualifier;
    this reads up to the boundary instead.) English only: a Spanish phrase runs on with "de ..."
    that still names the product ("lámina de acero")."""
    if _AUX_NEXT.match(text, b):
        return b, []  # "How many trucks does Mexico export ...": the phrase a question word asks about
    stop = _PHRASE_STOP.search(text, b).start()
    inside: list[slots.Mention] = []
    mentions = slots.parties(text) + slots.years(text) + slots.refs(text) + slots.docs(text)
    mentions += [slots.Mention(m.start(), m.end(), m.group(0), m.group(0), "doc")
                 for m in slots.AGREEMENT.finditer(text)]
    for m in sorted(mentions, key=lambda m: m.start):
        if not b <= m.start < stop:
            continue
        cut = None
        # the slot's phrase starts at its opener: the nearest one among the few words before it,
        # with the openers right before that one ("going into Canada")
        for w in list(re.finditer(r"[\w’'.\-]+", text[b:m.start]))[::-1][:_OPENER_REACH]:
            word = w.group(0).lower()
            if word in _OPENER:
                cut = b + w.start()
            elif cut is not None:
                break
        if cut is None:
            if m.kind == "adj" or (m.kind == "noun" and not re.search(r"(?i)\bthe\s+$", text[:m.start])
                                   and re.match(r"\s+[a-z]", text[m.end:])):
                inside.append(m)  # "light U.S. helicopters", "light US trucks"
                continue
            return b, []
        stop = cut
        break
    return b + len(text[b:stop].rstrip(" ,")), inside


def _after(text: str, prep: str, tops: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The last topic right after `prep` (an article or a party between them allowed)."""
    target = None
    for m in re.finditer(rf"\b{re.escape(prep)}\s+(?:(?:the|el|la|los|las)\s+)?", text, re.I):
        after = [(a, b) for a, b in tops if a >= m.end() and not text[m.end():a].strip()]
        after = after or [(a, b) for a, b in tops if a >= m.end() and slots.parties(text[m.end():a])
                          and len(text[m.end():a].split()) <= 1]
        target = after[0] if after else target
    return target


def _swap_topic(previous: str, topic: str, prep: str, spanish: bool) -> tuple[str, str]:
    """The fragment's topic where the previous question's was: after the same preposition ("on
    energy" -> "on labor"), else the recommendation subject, else (English) the object after
    "on", else the last topic phrase; in English the old phrase goes with its qualifiers
    (`_phrase_end`). Parties in the old phrase stay ("Mexican gearboxes" -> "Mexican diesel
    engines")."""
    text = previous
    tops = [(a, b) for a, b in slots.topics(text) if not _adverb(text[a:b])]  # "annually" is no topic
    target = None
    if prep:
        target = _after(text, prep, tops)
    if target is None:
        subj = analyze(text).subject
        i = text.find(subj) if subj and subj != "all" else -1
        target = next(((a, b) for a, b in tops if i >= 0 and a >= i), None)
    if target is None and not spanish and _CHARGE_ON.search(text):
        target = _after(text, "on", tops)  # the object of "charge ... on", "put a duty on"
    if target is None and tops:
        target = tops[-1]
    if target is None:
        return append(text, ("sobre " if spanish else "about ") + topic), f"topic: + {topic}"
    a, b = target
    party = next((m for m in slots.parties(text) if m.end == a - 1 and text[m.end] == "-"), None)
    if party:  # "U.S.-built tank cars" -> "U.S. diesel locomotives": the party stays, its hyphen goes
        text = text[:party.end] + " " + text[a:]
    if set(fold(topic).split()) <= set(fold(text[a:b]).split()):
        return text, f"topic kept: {text[a:b]}"  # "Same for Mexican aluminum?" after "unalloyed aluminum"
    article = re.match(r"(?i)(?:the|a|an|el|la|los|las|un|una)\s+", topic)
    if article and re.search(r"(?i)\b(?:the|a|an|el|la|los|las|un|una)\s+$", text[:a]):
        a = slots.with_article(text, a) if re.search(r"(?i)\b(?:the|el|la|los|las)\s+$", text[:a]) else \
            a - len(re.search(r"\S+\s+$", text[:a]).group(0))
    words = text[a:b].split()
    kept_parties: list[slots.Mention] = []
    if len(words) >= 2 and words[-1].lower() in _GENERIC_HEADS and not any(
            w.lower() in _GENERIC_HEADS for w in topic.split()):
        b = a + len(text[a:b]) - len(words[-1]) - 1
    elif not spanish:
        b, inside = _phrase_end(text, b)
        named = {p.value for p in slots.parties(topic)}
        kept_parties = [p for p in inside if p.value not in named]
        b = _before_verb(text, a, b, topic)
    b = _before_adverb(text, a, b) if not spanish else b
    lead = "".join(f"{slots.EN_ADJ[p.value]} " for p in kept_parties)
    return text[:a] + lead + topic + text[b:], f"topic: {text[a:b]} -> {lead}{topic}"


# An adverb is a word in -ly whose stem (four letters or more) is an English word at least as
# common as the word itself and this common (wordfreq's Zipf scale): "differently" (different 5.3),
# "annually", "monthly"; not "belly", "apply", "comply", "supply", "assembly", "family". Set by hand
# on those words, not fitted: no tuning follow-up has a topic swap that meets an adverb (the 678 of
# the twenty-first session read the same with and without the rule).
ADVERB_STEM_ZIPF = 3.0


def _before_adverb(text: str, a: int, b: int) -> int:
    """The old topic's phrase without the adverb a run of content words took along ("treat Mexican
    sugar differently?"): the adverb stays in the question, after the new topic."""
    m = re.search(r"\s+([a-z]{4,}ly)$", text[a:b])
    return a + m.start() if m and " " in text[a:b].strip() and _adverb(m.group(1)) else b


def _adverb(word: str) -> bool:
    from wordfreq import zipf_frequency

    if not re.fullmatch(r"[a-z]{4,}ly", word):
        return False
    stem = zipf_frequency(word[:-2], "en")
    return stem >= ADVERB_STEM_ZIPF and stem >= zipf_frequency(word, "en")
