"""Render untrusted text (documents, uploads, model output, file names) as text, never as markup.

Streamlit renders most strings as Markdown (st.markdown, st.caption, alerts, expander and widget
labels, st.write_stream). A document that contains `[click](javascript:...)`, `![x](http://evil/img)`,
raw HTML or a Streamlit directive (`:red[...]`, `:material/...:`, `$...$`) must show those characters,
not act on them. `md_escape` backslash-escapes every ASCII punctuation character (CommonMark lets
any of them be escaped, so the result always reads as the original text) and defuses the two
constructs that escaping alone does not stop: indented code blocks (where escapes are shown
literally) and form feeds from PDF extraction. `safe_url` only lets web links through.
"""

from __future__ import annotations

import re
import string
from urllib.parse import quote, urlsplit

_ESCAPE_TABLE = str.maketrans({c: "\\" + c for c in string.punctuation})
_INDENT = re.compile(r"\n[ \t]+")
# The memo export keeps ordinary punctuation readable ("U.S.", "34.7") and escapes only what opens
# a link, image, emphasis, code, HTML, table cell or math span when a Markdown viewer renders it.
_MEMO_ESCAPE_TABLE = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|~$"})
_MEMO_LINE_START = re.compile(r"(?m)^(\s*)([#>+\-=]|\d+[.)])")


def md_escape(text: object, *, line_start: bool = True) -> str:
    """Markdown source that Streamlit displays exactly as `text` reads (line breaks kept).
    `line_start=False` for a piece that continues a line (keeps its leading spaces)."""
    s = str(text).replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    # indentation would start a code block, which shows the escapes instead of the text
    s = _INDENT.sub("\n", s)
    if line_start:
        s = s.lstrip(" \t")
    return s.translate(_ESCAPE_TABLE)


def md_escape_lines(text: object) -> str:
    """Like `md_escape`, with every single line break kept as a hard break (tables, lists, addresses)."""
    return md_escape(text).replace("\n", "  \n")


def memo_escape(text: object) -> str:
    """Light escaping for exported Markdown: readable when pasted raw, inert when rendered."""
    s = str(text).replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    s = s.translate(_MEMO_ESCAPE_TABLE)
    return _MEMO_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), s)


def safe_url(url: object) -> str | None:
    """The URL if it is an absolute http(s) link, percent-encoded so it cannot break out of a
    Markdown link; None for javascript:, data:, relative or otherwise odd links."""
    raw = str(url or "").strip()
    if not raw or any(ord(c) < 32 for c in raw):
        return None
    try:
        parts = urlsplit(raw)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(raw, safe=":/?#@!$&'*+,;=%~-._")


def md_link(label: object, url: object) -> str:
    """A Markdown link with an escaped label, or just the escaped label when the URL is unsafe."""
    target = safe_url(url)
    if target is None:
        return md_escape(label)
    return f"[{md_escape(label)}]({target})"


def md_highlight(text: str, spans: list[tuple[int, int]]) -> str:
    """Escaped `text` with the given character spans in bold (the sentences an answer quotes);
    line breaks are kept, as in the document."""
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        start, end = max(start, pos), min(end, len(text))
        if end <= start:
            continue
        out.append(md_escape(text[pos:start], line_start=pos == 0))
        # bold must hug non-space characters (else Markdown prints the asterisks) and cannot span
        # a paragraph break, so each line of the span is bolded on its own
        inner = text[start:end]
        lead = inner[: len(inner) - len(inner.lstrip())]
        trail = inner[len(inner.rstrip()) :]
        lines = [line.strip() for line in inner.strip().split("\n")]
        out.append(md_escape(lead, line_start=start == 0))
        out.append("\n".join(f"**{md_escape(line)}**" if line else "" for line in lines))
        out.append(md_escape(trail, line_start=False))
        pos = end
    out.append(md_escape(text[pos:], line_start=pos == 0))
    return "".join(out).replace("\n", "  \n")
