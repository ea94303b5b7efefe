"""The conversation as Markdown a negotiator pastes into a memo.

Answers keep their wording; their `[n]` markers become Markdown footnotes numbered across the
whole conversation (`[^3]`), and the notes at the end give each source as a memo expects: title,
precise location, the quoted words, and the link (plus the brief's own footnote source when the
passage cites one). The same passage quoted twice gets one note. Each follow-up keeps the standalone
question it was understood as. Document text is escaped so the file stays inert in any Markdown
viewer.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from assistant.domain import Citation
from assistant.textutil import collapse
from ui.chat_state import Turn
from ui.safety import memo_escape, safe_url


def note_text(c: Citation) -> str:
    """One note: *Title* (kind), location: "quote". Source: ... URL."""
    parts = [f"*{memo_escape(collapse(c.title))}*" + (f" ({c.kind})" if c.kind else "")]
    if c.location and c.location != c.title:
        parts[0] += f", {memo_escape(collapse(c.location))}"
    text = parts[0] + "."
    if c.quote:
        text += f" “{memo_escape(collapse(c.quote))}”"
    url = safe_url(c.url)
    if url:
        text += f" <{url}>"
    for ref in c.footnotes:
        src = ", ".join(memo_escape(collapse(x)) for x in (ref.title, ref.publisher, ref.date) if x)
        src = src or memo_escape(collapse(ref.text))
        ref_url = safe_url(ref.url)
        text += f" Brief footnote {ref.footnote}: {src}" + (f" <{ref_url}>" if ref_url and ref_url != url else "") + "."
    return text


def conversation_markdown(turns: list[Turn], *, exported_at: datetime | None = None) -> str:
    when = (exported_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# USMCA Review Assistant: conversation",
        "",
        f"Exported {when}. Every answer sentence quotes an indexed document; the notes give the sources.",
        "",
    ]
    notes: list[str] = []
    note_of: dict[tuple[str, str], int] = {}
    for i, turn in enumerate(turns, 1):
        a = turn.answer
        lines += [f"## {i}. {memo_escape(collapse(turn.question))}", ""]
        numbering: dict[int, int] = {}
        for c in a.citations:
            key = (c.chunk_id, collapse(c.quote))
            if key not in note_of:
                notes.append(note_text(c))
                note_of[key] = len(notes)
            numbering[c.number] = note_of[key]

        def to_footnotes(m: re.Match[str], numbering: dict[int, int] = numbering) -> str:
            nums = [int(n) for n in re.split(r"\s*[,;]\s*", m.group(1))]
            if not all(n in numbering for n in nums):
                return m.group(0)
            return "".join(f"[^{numbering[n]}]" for n in nums)

        body = memo_escape(a.text)
        # escaping turned "[1]" into "\[1\]"; markers become footnote references
        body = re.sub(r"\\\[(\d+(?:\s*[,;]\s*\d+)*)\\\]", lambda m: to_footnotes(m), body)
        lines += [body, ""]
        facts = []
        if a.abstained:
            facts.append("no answer in the indexed documents")
        if collapse(turn.understood) != collapse(turn.question):
            facts.append(f"understood as “{memo_escape(collapse(turn.understood))}”")
        if turn.kinds or turn.documents:
            facts.append("restricted to " + ", ".join(memo_escape(x) for x in [*turn.kinds, *turn.documents]))
        facts.append(f"answered by {memo_escape(a.backend)}")
        lines += ["*" + "; ".join(facts) + ".*", ""]
        for w in a.warnings:
            lines += [f"> Warning: {memo_escape(collapse(w))}", ""]
    if notes:
        lines += ["## Notes", ""]
        lines += [f"[^{n}]: {text}" for n, text in enumerate(notes, 1)]
        lines.append("")
    return "\n".join(lines)


def export_filename(exported_at: datetime | None = None) -> str:
    return (exported_at or datetime.now(UTC)).strftime("usmca-conversation-%Y%m%d-%H%M.md")
