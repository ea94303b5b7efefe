"""The brief's footnotes: where they sit in the Markdown, their text, and the sources they cite.

Layout of the brief (converted from the PDF): each footnote is a paragraph that starts with
`<sup>N</sup>`, usually after the `---` line that ends a printed page. Two quirks matter:

* a footnote can wrap: its URL then sits alone in a later paragraph, sometimes after body text and a
  page break (footnotes 12, 13, 22, 23). A paragraph holding nothing but one URL is therefore a
  continuation of the most recent footnote, provided that footnote has no URL yet;
* a few markers in the body are bare numbers on their own line ("29", "45") instead of `<sup>`.

Citation parsing follows the brief's Chicago style: `Author, "Title," Outlet, date, page, URL.`,
with italic titles for hearings and books, and repeated short cites (`"ICO/TIVA Highlights," 2.`)
that `resolve_short_cites` maps back to their first full citation.

URL policy: `SourceRef.url` is canonical, i.e. the first http(s) URL with markdown escapes and trailing
punctuation removed and the scroll-to-text directive (`#:~:text=...`) dropped, because that directive
only highlights words in a browser and is not part of the resource's identity (it would also defeat
matching a footnote to a registry document). The footnote text keeps the URL as printed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from assistant.domain import SourceRef

_SUP = re.compile(r"<sup>(\d{1,3})</sup>")
_BARE_MARK = re.compile(r"\d{1,2}")
_RULE = re.compile(r"(?:-{3,}|\*{3,}|_{3,})")
# One link, autolink, backslash escape or run of asterisks, scanned left to right in one pass so an
# escaped character is never read twice and a URL's own characters are never unescaped as text.
_INLINE = re.compile(
    r"\[(?P<text>(?:\\.|[^\]\\])*)\]\((?P<href>(?:[^()\s]|\([^()\s]*\))+)\)"
    r"|<(?P<auto>(?:https?|ftp|mailto):[^<>\s]+)>"
    r"|\\(?P<esc>[!-/:-@\[-`{-~])"
    r"|(?P<stars>\*+)"
)
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_URL_ONLY = re.compile(
    r"(?:<https?://[^<>\s]+>|\[(?:\\.|[^\]\\])*\]\((?:[^()\s]|\([^()\s]*\))+\)|https?://\S+)\.?"
)
_URL = re.compile(r"https?://[^\s<>]+")


# --------------------------------------------------------------------------- where footnotes are


@dataclass(frozen=True)
class FootnoteBlock:
    """One footnote's place in the Markdown: its `<sup>N</sup>` paragraph, then any continuation
    paragraphs (a wrapped URL). Each span is `(start, end)` as in `markdown[start:end]`."""

    number: int
    spans: tuple[tuple[int, int], ...]

    def raw(self, markdown: str) -> str:
        return "\n".join(markdown[s:e] for s, e in self.spans)


def _paragraphs(markdown: str) -> list[tuple[int, int]]:
    """Spans of paragraphs: runs of non-blank lines; a thematic break (`---`) is a paragraph of its
    own. A span runs from the first visible character to the last one (newline and trailing
    spaces excluded)."""
    paras: list[tuple[int, int]] = []
    start: int | None = None
    end = 0
    pos = 0
    for line in markdown.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        stripped = body.strip()
        if not stripped or _RULE.fullmatch(stripped):
            if start is not None:
                paras.append((start, end))
                start = None
            if stripped:  # the rule itself
                lead = len(body) - len(body.lstrip())
                paras.append((pos + lead, pos + len(body.rstrip())))
        else:
            if start is None:
                start = pos + len(body) - len(body.lstrip())
            end = pos + len(body.rstrip())
        pos += len(line)
    if start is not None:
        paras.append((start, end))
    return paras


def footnote_blocks(markdown: str) -> list[FootnoteBlock]:
    """Every footnote in document order. A number printed twice keeps its first occurrence."""
    blocks: list[tuple[int, list[tuple[int, int]], bool]] = []  # number, spans, has_url
    seen: set[int] = set()
    for s, e in _paragraphs(markdown):
        text = markdown[s:e]
        m = _SUP.match(text)
        if m:
            n = int(m.group(1))
            if n in seen:
                continue
            seen.add(n)
            blocks.append((n, [(s, e)], bool(_URL.search(text))))
        elif blocks and not blocks[-1][2] and _URL_ONLY.fullmatch(text):
            n, spans, _ = blocks[-1]
            blocks[-1] = (n, [*spans, (s, e)], True)
    return [FootnoteBlock(n, tuple(spans)) for n, spans, _ in blocks]


def footnote_spans(markdown: str) -> list[tuple[int, int]]:
    """Char spans of all footnote paragraphs, sorted, for cutting footnotes out of the body.

    Exactly: each `<sup>N</sup>` paragraph from its `<` to its last visible character, and each
    continuation paragraph (a lone wrapped URL) from its first to its last visible character.
    Not included: the `---` page rules, the blank lines between paragraphs, and footnote markers
    inside body text (see `footnote_markers`). Spans never overlap.
    """
    return sorted(span for block in footnote_blocks(markdown) for span in block.spans)


def footnote_markers(markdown: str) -> list[tuple[int, int, int]]:
    """Footnote markers in the body as `(number, start, end)`: every `<sup>N</sup>` that does not
    open a footnote paragraph, and every paragraph that is a bare number ("29", "45")."""
    inside = footnote_spans(markdown)
    starts = {s for s, _ in inside}

    def in_footnote(pos: int) -> bool:
        return any(s <= pos < e for s, e in inside)

    marks = [
        (int(m.group(1)), m.start(), m.end())
        for m in _SUP.finditer(markdown)
        if m.start() not in starts and not in_footnote(m.start())
    ]
    for s, e in _paragraphs(markdown):
        if _BARE_MARK.fullmatch(markdown[s:e]) and not in_footnote(s):
            marks.append((int(markdown[s:e]), s, e))
    return sorted(marks, key=lambda t: t[1])


# --------------------------------------------------------------------------- footnote text


def clean_inline(text: str, *, keep_emphasis: bool = False) -> str:
    """Markdown inline text to plain text: links become their URL, escapes are undone, emphasis
    asterisks are dropped (kept with `keep_emphasis`, for the citation parser), whitespace and line
    breaks collapse to single spaces."""

    def sub(m: re.Match[str]) -> str:
        if m.group("href") is not None:
            return _ESCAPE.sub(r"\1", m.group("href"))
        if m.group("auto") is not None:
            return m.group("auto")
        if m.group("esc") is not None:
            return m.group("esc")
        return m.group("stars") if keep_emphasis else ""

    return re.sub(r"\s+", " ", _INLINE.sub(sub, text)).strip()


def extract_footnotes(markdown: str, *, keep_emphasis: bool = False) -> dict[int, str]:
    """Footnote number -> its text as printed, joined across wrapped lines and pages, as plain text
    (see `clean_inline`). With `keep_emphasis` italic spans stay as `*...*`."""
    out: dict[int, str] = {}
    for block in footnote_blocks(markdown):
        raw = _SUP.sub("", block.raw(markdown), count=1)
        out[block.number] = clean_inline(raw, keep_emphasis=keep_emphasis)
    return out


# --------------------------------------------------------------------------- citations

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DATE = re.compile(rf"(?:updated\s+)?(?P<d>(?:{_MONTH}\s+(?:\d{{1,2}},?\s+)?)?(?:19|20)\d{{2}})", re.I)
_MONTH_DAY = re.compile(rf"(?:updated\s+)?{_MONTH}\s+\d{{1,2}}", re.I)
_YEAR = re.compile(r"(?:19|20)\d{2}")
_ISSUE = re.compile(r"no\.\s*\d+\s*\((?P<d>[^)]*)\)(?::\s*(?P<p>\d+(?:[-–]\d+)?))?", re.I)
_PAGE = re.compile(r"(?:pp?\.\s*)?\d{1,4}(?:[-–]\d{1,4})?")
_LOCATOR = re.compile(r"(?:Article|Art\.|Chapter|Table|Graph|Figure|Annex|Section|Appendix|§)\s*\S+")
_MEDIA = {"webinar", "podcast", "video", "interview"}
_QUOTED = re.compile(r"[“\"](?P<t>.+?)[”\"](?=[\s,.;]|$)")
_ITALIC = re.compile(r"\*(?P<t>[^*]+)\*")
_CONTAINER = re.compile(r"in\s+\*?(?P<c>[^*(,]+?)\*?\s*(?:\((?P<facts>[^)]*)\))?\s*(?:,|$)")
_SEE = re.compile(r"(?:^|(?<=[.;]))\s*See\s+")
_INTERVIEW = re.compile(
    r"^(?:As\s+)?(?P<who>[^,]+?),.*?\binterview with the author(?:\s+in\s+(?P<d>[A-Z][a-z]+\.?\s+\d{4}))?",
)


@dataclass(frozen=True)
class FootnoteCitation:
    """Everything parsed from one footnote. `page` and `locator` are what the footnote pinpoints
    ("25", "Article 34.7"); SourceRef has no field for them yet (see `to_ref`)."""

    footnote: int
    text: str  # plain footnote text as printed
    author: str = ""
    title: str = ""
    publisher: str = ""
    date: str = ""
    url: str = ""
    page: str = ""
    locator: str = ""

    def to_ref(self, document_id: str = "") -> SourceRef:
        return SourceRef(
            footnote=self.footnote,
            text=self.text,
            title=self.title,
            author=self.author,
            publisher=self.publisher,
            date=self.date,
            url=self.url,
            document_id=document_id,
            page=self.page,
            locator=self.locator,
        )


def canonical_url(url: str) -> str:
    """The URL without markdown escapes, trailing punctuation, unbalanced `)` or a `#:~:text=`
    directive (an empty fragment left behind is dropped too)."""
    url = url.replace("\\", "").strip()
    while True:
        trimmed = url.rstrip(".,;:")
        if trimmed.endswith(")") and trimmed.count("(") < trimmed.count(")"):
            trimmed = trimmed[:-1]
        if trimmed == url:
            break
        url = trimmed
    cut = url.find(":~:")
    if cut != -1:
        url = url[:cut].rstrip("#")
    return url


def first_url(text: str) -> str:
    m = _URL.search(text)
    return canonical_url(m.group(0)) if m else ""


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _plain(text: str) -> str:
    return text.replace("*", "").strip()


def _parse_tail(tail: str) -> dict[str, str]:
    """Publisher, date, page and locator from what follows the title: `Outlet, date, page`."""
    out = {"publisher": "", "date": "", "page": "", "locator": ""}
    container = ""
    m = _CONTAINER.match(tail)
    if m:  # "in *USMCA Forward* (Washington, D.C.: Brookings Institution, 2023)"
        container = _plain(m.group("c"))
        facts = m.group("facts") or ""
        pub = facts.split(":", 1)[1] if ":" in facts else ""
        pub_parts = _split_top(pub)
        if pub_parts and _YEAR.fullmatch(pub_parts[-1]):
            out["date"] = pub_parts.pop()
        container = f"{container} ({', '.join(pub_parts)})" if pub_parts else container
        tail = tail[m.end() :]
    segs = [_plain(s) for s in _split_top(tail)]
    merged: list[str] = []
    for seg in segs:  # "Feb. 6" + "2025" -> "Feb. 6, 2025"
        if merged and _YEAR.fullmatch(seg) and _MONTH_DAY.fullmatch(merged[-1]):
            merged[-1] = f"{merged[-1]}, {seg}"
        else:
            merged.append(seg)
    publisher: list[str] = [container] if container else []
    locators: list[str] = []
    for seg in merged:
        if (d := _DATE.fullmatch(seg)) and not out["date"]:
            out["date"] = d.group("d")
        elif i := _ISSUE.fullmatch(seg):  # "no. 3 (July 2023): 1-72"; drop a volume number before it
            out["date"] = out["date"] or i.group("d").strip()
            out["page"] = i.group("p") or out["page"]
            if publisher:
                publisher[-1] = re.sub(r"\s+\d+$", "", publisher[-1])
        elif _PAGE.fullmatch(seg) and not out["page"]:
            out["page"] = re.sub(r"^pp?\.\s*", "", seg)
        elif _LOCATOR.fullmatch(seg):
            locators.append(seg)
        elif seg.lower() in _MEDIA:
            continue
        elif not out["date"] and not out["page"]:
            publisher.append(seg)
    out["publisher"] = ", ".join(publisher)
    out["locator"] = ", ".join(locators)
    return out


def parse_citation(number: int, text: str) -> FootnoteCitation:
    """Parse one footnote. `text` may keep `*italics*` (see `extract_footnotes(keep_emphasis=True)`):
    they mark italic titles such as hearings; without them such a title is read from the text up to
    the date."""
    plain = _plain(text)
    url_match = _URL.search(text)
    url = canonical_url(url_match.group(0)) if url_match else ""
    head = (text[: url_match.start()] if url_match else text).strip().rstrip(",.").strip()
    see = list(_SEE.finditer(head))
    if see and see[-1].start() > 0:  # commentary first, then "See <citation>"
        head = head[see[-1].end() :]

    author = title = ""
    tail = head
    if (m := _QUOTED.search(head)) or (m := _ITALIC.search(head)):
        title = _plain(m.group("t")).rstrip(",.").strip()
        author = _plain(head[: m.start()]).rstrip(",").strip()
        tail = head[m.end() :].lstrip(" ,.")
    elif iv := _INTERVIEW.match(_plain(head)):
        return FootnoteCitation(
            number,
            plain,
            author=iv.group("who").strip(),
            title="Interview with the author",
            date=iv.group("d") or "",
        )
    elif re.search(r"\binterview\b", head, re.I):  # "Sarukhan interview."
        who = re.split(r"\s+interview\b", _plain(head), maxsplit=1, flags=re.I)[0]
        return FootnoteCitation(number, plain, author=who.strip(" ,"), title="Interview")

    fields = _parse_tail(tail)
    if not title:  # no quoted or italic title: the title runs up to the date
        title = fields["publisher"]
        fields["publisher"] = ""
    # An organisation cited as author is its own publisher (only for a full citation, not "De Gortari").
    publisher = fields["publisher"] or (author if url or fields["date"] else "")
    return FootnoteCitation(
        footnote=number,
        text=plain,
        author=author,
        title=title,
        publisher=publisher,
        date=fields["date"],
        url=url,
        page=fields["page"],
        locator=fields["locator"],
    )


def parse_citations(footnotes: dict[int, str]) -> list[FootnoteCitation]:
    return [parse_citation(n, footnotes[n]) for n in sorted(footnotes)]


def parse_sources(footnotes: dict[int, str]) -> list[SourceRef]:
    """One SourceRef per footnote, in number order, as printed: short cites are not resolved yet
    (see `resolve_short_cites`)."""
    return [c.to_ref() for c in parse_citations(footnotes)]


def fold_text(text: str) -> str:
    """Case-, accent- and quote-insensitive form of `text`, for matching titles and names."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).casefold().strip()


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", fold_text(text)))


def _repeats(short: SourceRef, full: SourceRef) -> bool:
    """Does the URL-less `short` cite repeat `full`? The short title must be part of the full one,
    and a short author's words must all occur in the full author (surname only is typical)."""
    if not short.title or not full.title:
        return False
    if fold_text(short.title) not in fold_text(full.title):
        return False
    if short.author and not _words(short.author) <= _words(full.author):
        return False
    return not (
        short.publisher
        and full.publisher
        and short.publisher != short.author
        and not (_words(short.publisher) <= _words(full.publisher))
    )


def resolve_short_cites(refs: list[SourceRef]) -> tuple[list[SourceRef], dict[int, int]]:
    """Fill each repeated short cite (a footnote without URL that names an earlier source) from the
    first full citation of that source. Returns the refs in the same order (a short cite keeps its
    own `footnote` and `text`) and `{short footnote: footnote of the first full citation}`."""
    originals: list[SourceRef] = []
    short: dict[int, int] = {}
    out: list[SourceRef] = []
    for ref in sorted(refs, key=lambda r: r.footnote):
        target = None
        if not ref.url:
            target = next((o for o in originals if _repeats(ref, o)), None)
        if target is None:
            originals.append(ref)
            out.append(ref)
            continue
        short[ref.footnote] = target.footnote
        out.append(
            replace(
                target, footnote=ref.footnote, text=ref.text, page=ref.page, locator=ref.locator, repeats=target.footnote
            )
        )
    order = {r.footnote: i for i, r in enumerate(refs)}
    out.sort(key=lambda r: order.get(r.footnote, len(order)))
    return out, short


def brief_sources(markdown: str) -> tuple[list[SourceRef], dict[int, int]]:
    """The brief's sources in one call: italics are kept while parsing so italic titles are found,
    and the refs' `text` is plain."""
    cites = parse_citations(extract_footnotes(markdown, keep_emphasis=True))
    return resolve_short_cites([c.to_ref() for c in cites])
