"""Follow-up questions rewritten into standalone questions before retrieval.

Retrieval sees one question at a time, so "How many workers did it benefit?" must become "How many
workers did the Rapid Response Mechanism benefit?" first. With an LLM backend the model rewrites it
(`rewrite_messages`); otherwise, or when the model fails, a deterministic rule does:

- a question is a follow-up when it opens with a connective ("and for Canada?", "what about ...",
  "¿y ...?") or leans on a pronoun ("it", "they", "this", "eso" ...) while naming few things itself;
- the previous question's topic is the phrase after "about/on/regarding/sobre ..." , else its
  longest run of capitalised words, else its content words;
- a pronoun is replaced by that topic; a connective follow-up that names a country swaps it for the
  country of the previous question, and any other connective follow-up is appended to the previous
  question ("What tariffs hit Mexican steel? — and aluminum").

Earlier user turns are made standalone in order, so a chain of follow-ups keeps its topic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel

from assistant.answer.prompts import rewrite_messages
from assistant.textutil import STOPWORDS, collapse

Turn = tuple[str, str]

_CONNECTIVE = re.compile(
    r"^\s*(?:¿\s*)?(?:and|also|but|what about|how about|and what about|what of|same for|"
    r"y|y qué (?:hay )?(?:de|sobre)|qué (?:hay )?de|y (?:para|en|sobre|con))\b[\s,]*",
    re.I,
)
_PRONOUN = re.compile(
    r"\b(it|its|they|them|their|theirs|this|that|these|those|he|him|his|she|her|there|"
    r"ello|ella|él|eso|esto|ese|esa|estos|esas|su|sus)\b(?!\s+(?:brief|report|document|informe|agreement|treaty))",
    re.I,
)
_PERSONAL = {"he", "him", "his", "she", "her", "él", "ella"}
_WHO = re.compile(r"\b(?:who|whom|whose|quién|quienes|quiénes)\b", re.I)
_POSSESSIVE = {"its", "their", "theirs", "his", "her", "su", "sus"}
_TOPIC_AFTER = re.compile(
    r"\b(?:about|on|regarding|concerning|for|of|sobre|acerca de|respecto a|de)\s+(.+?)\s*[?.!]*$", re.I
)
_CAPS_RUN = re.compile(r"(?:\b(?:[A-Z][\w.’'\-]*|U\.S\.)(?:\s+(?:of|the|and|de|del|la)?\s*(?=[A-Z]))?\s*)+")
_QUESTION_WORDS = frozenset(re.findall(
    r"\S+",
    "what which who whom how when where why does do did is are was were can could should would will "
    "qué cuál cuáles quién cómo cuándo dónde por cuánto cuántos cuánta cuántas tell explain describe "
    "give list show",
))
_COUNTRIES = {
    "mexico": "Mexico", "mexican": "Mexico", "méxico": "Mexico", "canada": "Canada", "canadian": "Canada",
    "canadá": "Canada", "china": "China", "chinese": "China", "japan": "Japan", "japanese": "Japan",
    "germany": "Germany", "korea": "Korea", "vietnam": "Vietnam", "india": "India", "u.s.": "U.S.",
    "us": "U.S.", "united states": "United States", "estados unidos": "United States",
}
_COUNTRY_RE = re.compile(r"\b(" + "|".join(sorted((re.escape(k) for k in _COUNTRIES), key=len, reverse=True)) + r")(?!\w)", re.I)
MAX_REWRITE_CHARS = 400


def content_terms(text: str) -> list[str]:
    words = re.findall(r"[\w’'\-.]+", text)
    return [w.strip(".") for w in words
            if w.lower().strip(".") not in STOPWORDS and w.lower() not in _QUESTION_WORDS and len(w) > 2]


def is_follow_up(question: str) -> bool:
    """Opens with a connective, or uses a pronoun while naming at most four things itself (a
    personal pronoun after "who" refers to the answer of the same question, not to the last turn)."""
    if _CONNECTIVE.match(question):
        return True
    return _anaphor(question) is not None and len(content_terms(question)) <= 4


def _anaphor(question: str) -> re.Match[str] | None:
    """The first pronoun that must refer outside the question."""
    for m in _PRONOUN.finditer(question):
        if m.group(1).lower() in _PERSONAL and _WHO.search(question[: m.start()]):
            continue
        return m
    return None


def topic(question: str) -> str:
    """The thing a question is about, to carry into its follow-up."""
    q = collapse(question).rstrip("?.! ")
    q = re.sub(r"^\s*¿", "", q)
    m = _TOPIC_AFTER.search(q + "?")
    if m and content_terms(m.group(1)):
        return m.group(1).strip()
    runs = [r.strip() for r in _CAPS_RUN.findall(q[q.find(" ") + 1:] if " " in q else "")]
    runs = [r for r in runs if content_terms(r)]
    if runs:
        return max(runs, key=len)
    return " ".join(content_terms(q))


def rule_rewrite(question: str, previous: str) -> str:
    """The deterministic rewrite of `question` given the previous standalone question."""
    q = collapse(question)
    if not previous or not is_follow_up(q):
        return q
    conn = _CONNECTIVE.match(q)
    if conn:
        rest = q[conn.end():].strip(" ?¿.!")
        new_country = _COUNTRY_RE.search(rest)
        old_country = _country_to_swap(previous)
        if new_country and old_country and len(content_terms(rest)) <= 2:
            replacement = _COUNTRIES[new_country.group(1).lower()]
            return previous[: old_country.start()] + replacement + previous[old_country.end():]
        if not rest:
            return previous
        return f"{previous.rstrip()} — {rest}" if _anaphor(rest) is None else _replace_pronoun(rest, previous)
    return _replace_pronoun(q, previous)


def _country_to_swap(previous: str) -> re.Match[str] | None:
    """The last country the previous question names, preferring one other than the U.S. (in
    "U.S. imports from Mexico" the follow-up "and for Canada?" swaps Mexico)."""
    found = list(_COUNTRY_RE.finditer(previous))
    others = [m for m in found if _COUNTRIES[m.group(1).lower()] not in ("U.S.", "United States")]
    return (others or found or [None])[-1]


def _replace_pronoun(q: str, previous: str) -> str:
    subject = topic(previous)
    if not subject:
        return f"{q} ({previous})"
    m = _anaphor(q)
    if m is None:
        return f"{q} ({subject})"
    word = m.group(1)
    repl = subject
    if word.lower() in _POSSESSIVE and word.lower() not in ("su", "sus"):
        repl = f"{subject}'" if subject.endswith("s") else f"{subject}'s"
    if word[0].isupper() and m.start() == 0:
        repl = repl[0].upper() + repl[1:]
    return q[: m.start()] + repl + q[m.end():]


def standalone_question(
    question: str,
    history: Sequence[Turn] | None,
    *,
    llm: BaseChatModel | None = None,
    max_turns: int = 6,
) -> tuple[str, list[str]]:
    """(the question to search, warnings). Without history the question is returned as is."""
    question = collapse(question)
    turns = [(r, t) for r, t in (history or []) if r in ("user", "assistant") and t and t.strip()]
    if not turns:
        return question, []
    warnings: list[str] = []
    if llm is not None and is_follow_up(question):
        try:
            reply = llm.invoke(rewrite_messages(question, turns[-max_turns:])).text
            line = next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")
            line = re.sub(r"^(?:standalone question|question|rewritten question)\s*:\s*", "", line, flags=re.I)
            if line and len(line) <= MAX_REWRITE_CHARS:
                return line.strip('"“”'), warnings
            warnings.append("the model's rewrite of the follow-up was unusable; a rule rewrote it")
        except Exception as e:  # an unreachable backend must not stop the question
            warnings.append(f"could not rewrite the follow-up with the model ({type(e).__name__}); a rule rewrote it")
    previous = ""
    for role, text in turns:
        if role == "user":
            previous = rule_rewrite(text, previous)
    return rule_rewrite(question, previous), warnings
