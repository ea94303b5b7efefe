"""U.S. Code parser on the real 19 U.S.C. chapter 29 Markdown file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.ingest.base import DocumentInfo, ParsedDocument
from assistant.ingest.detect import choose_parser
from assistant.ingest.loaders import load
from assistant.ingest.uscode import parse, section_numbers
from assistant.textutil import collapse, word_count

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CHAPTER = CORPUS / "us-code" / "19-usc-chapter-29-usmca-implementation.md"

# MANIFEST.md: "§§ 4501–4502, 4511–4516, 4531–4535, 4551–4552, 4561, 4571–4574, 4581–4588, 4601, 4611,
# 4621, 4631, 4641–4649, 4661–4663, 4671–4674, 4681–4684, 4691–4693, 4701, 4711–4717 and 4731–4732".
_RANGES = [
    (4501, 4502),
    (4511, 4516),
    (4531, 4535),
    (4551, 4552),
    (4561, 4561),
    (4571, 4574),
    (4581, 4588),
    (4601, 4601),
    (4611, 4611),
    (4621, 4621),
    (4631, 4631),
    (4641, 4649),
    (4661, 4663),
    (4671, 4674),
    (4681, 4684),
    (4691, 4693),
    (4701, 4701),
    (4711, 4717),
    (4731, 4732),
]
EXPECTED = [str(n) for a, b in _RANGES for n in range(a, b + 1)]


def _info() -> DocumentInfo:
    return DocumentInfo(id="19-usc-ch29", title="", kind="")


@pytest.fixture(scope="module")
def code() -> ParsedDocument:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return parse(load(CHAPTER), _info())


def test_all_sixty_five_sections(code):
    assert len(EXPECTED) == 65
    assert section_numbers(code) == EXPECTED
    assert code.info.kind == "law"
    assert code.info.title.startswith("19 U.S.C. Chapter 29")
    assert choose_parser(load(CHAPTER), _info()) == "uscode_md"


def test_section_and_subsection_labels(code):
    labels = {c.label for c in code.chunks}
    assert "19 U.S.C. § 4501" in labels  # a section without subsections
    assert "19 U.S.C. § 4611(a)" in labels
    sub_b = [c for c in code.chunks if c.label.startswith("19 U.S.C. § 4611(b)")]
    assert sub_b and all(c.meta["key"] == "4611" and c.meta["subsection"] == "(b)" for c in sub_b)
    assert sub_b[0].text.startswith("(b) Consultations with Congress and stakeholders")
    report = next(c for c in code.chunks if "At least 180 days before a 6-year joint review" in c.text)
    assert report.label == "19 U.S.C. § 4611(b)(2)" and report.meta["paragraph"] == "(b)(2)"
    for c in code.chunks:
        assert re.fullmatch(r"19 U\.S\.C\. § \d{4}(\([a-z]{1,2}\))?(\([0-9A-Za-z]+\))*", c.label), c.label


def test_section_path_has_subchapter_and_part(code):
    c = next(c for c in code.chunks if c.label == "19 U.S.C. § 4611(a)")
    assert c.section.startswith(
        "SUBCHAPTER V — TRANSITION TO AND EXTENSION OF USMCA > "
        "Part A — Joint Reviews Regarding Extension of USMCA"
    )
    assert "§ 4611. Participation in joint reviews with Canada and Mexico" in c.section
    assert c.section.endswith("(a) In general")
    first = next(c for c in code.chunks if c.meta["key"] == "4501")
    assert "path" not in first.meta  # §§ 4501-4502 come before subchapter I


def test_dev_evidence_quote(code):
    want = collapse("be co-chaired by the Trade Representative and the Secretary of Labor; and").lower()
    hits = [c for c in code.chunks if want in collapse(c.text).lower()]
    assert len(hits) == 1 and hits[0].meta["key"] == "4641" and hits[0].label.startswith("19 U.S.C. § 4641")


def test_notes_and_front_matter_not_quoted(code):
    sub_b = next(c for c in code.chunks if c.label == "19 U.S.C. § 4732(b)")
    assert "missing from the source chunks" not in sub_b.text
    assert "paulkarpenko" in sub_b.meta["notes"][0]
    assert sub_b.text.startswith("(b) Duties\n\nThe duties described in this subsection are the following:")
    assert not any("codexstanford" in c.text or c.text.startswith(">") for c in code.chunks)


def test_sizes_offsets_and_ids(code):
    for c in code.chunks:
        assert word_count(c.text) <= 180, c.label
        source = re.sub(r"(?m)^#+ ", "", code.text[c.start : c.end])  # merged chunks span "### " headings
        source = re.sub(r"\*\[[^\]]*\]\*", "", source)  # the editor's note is left out of § 4732(b)
        assert collapse(c.text) in collapse(source), c.label
    again = parse(load(CHAPTER), _info())
    assert [c.id for c in again.chunks] == [c.id for c in code.chunks]
    assert len({c.id for c in code.chunks}) == len(code.chunks)


def test_merged_chunks_list_what_they_cite(code):
    merged = [c for c in code.chunks if c.meta.get("cites")]
    assert merged
    for c in merged:
        assert len(c.meta["cites"]) >= 2
        assert all(
            cite.startswith(c.label) or c.label.startswith(cite.split("(")[0]) for cite in c.meta["cites"]
        )
