"""Tariff schedule parser on the real Annex 2-B Tariff Schedule of Canada page."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from assistant.ingest.base import DocumentInfo, ParsedDocument
from assistant.ingest.detect import choose_parser
from assistant.ingest.loaders import load
from assistant.ingest.tariff import normalize_tariff_item, parse
from assistant.textutil import collapse

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
SCHEDULE = CORPUS / "usmca" / "usmca-ch02-annex-2-b-tariff-schedule-of-canada.html"


def _info(kind: str = "") -> DocumentInfo:
    return DocumentInfo(id="usmca-annex-2b-canada", title="", kind=kind)


@pytest.fixture(scope="module")
def schedule() -> ParsedDocument:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return parse(load(SCHEDULE), _info())


@pytest.fixture(scope="module")
def lines(schedule) -> dict:
    return {c.meta["key"]: c for c in schedule.chunks}


def test_every_tariff_line_is_one_chunk(schedule, lines):
    # The table has 7,457 rows, one tariff line each. The corpus manifest's "7,749" counts every
    # item number in the page, including 292 that descriptions mention ("of tariff item No. ...").
    raw = load(SCHEDULE)
    assert len(re.findall(r"\d{4}\.\d{2}\.\d{2}", raw.text)) == 7749
    assert len(schedule.chunks) == 7457 == len(lines)
    assert schedule.chunks[0].meta["key"] == "0101.21.00"
    assert schedule.chunks[-1].meta["key"] == "9706.00.00"
    assert all(c.kind == "tariff" for c in schedule.chunks)
    assert schedule.info.title == "Tariff schedule of Canada: Canada-United States-Mexico Agreement (CUSMA)"
    assert choose_parser(raw, _info()) == "tariff_html"


def test_exact_lines_and_rates(lines):
    first = lines["0101.21.00"]
    assert first.text.splitlines()[0] == "0101.21.00 Pure-bred breeding animals 0 0"
    assert first.meta["rates"] == {"Mexico": "0", "United States": "0"}
    assert first.meta["description"] == "Pure-bred breeding animals"
    assert first.meta["base_rate"] is None  # this table has no base-rate column
    assert first.label == "USMCA Annex 2-B (Canada) tariff item 0101.21.00"
    crude = lines["2709.00.00"]
    assert (
        crude.text.splitlines()[0]
        == "2709.00.00 Petroleum oils and oils obtained from bituminous minerals, crude. 0 0"
    )
    assert crude.text.splitlines()[1] == (
        "Under Canada's USMCA tariff schedule (Annex 2-B), tariff item 2709.00.00 (Petroleum oils and "
        "oils obtained from bituminous minerals, crude) has the rate 0 (duty-free from the date of entry "
        "into force of the Agreement) for originating goods of Mexico and the United States."
    )
    antiques = lines["9706.00.00"]
    assert antiques.text.startswith("9706.00.00 Antiques of an age exceeding one hundred years. 0 0")
    broilers = lines["0105.11.22"]
    assert broilers.meta["rates"] == {"Mexico": "*", "United States": "*"}
    assert "Appendix 1 to the Schedule applies" in broilers.text
    mixed = lines["0105.11.21"]
    assert mixed.meta["rates"] == {"Mexico": "*", "United States": "0"}
    assert "the rate * (" in mixed.text and "the rate 0 (" in mixed.text


def test_dev_evidence_quote(schedule):
    want = collapse(
        "2709.00.00 Petroleum oils and oils obtained from bituminous minerals, crude. 0 0"
    ).lower()
    assert [c.meta["key"] for c in schedule.chunks if want in collapse(c.text).lower()] == ["2709.00.00"]


def test_other_lines_get_their_context(lines):
    other = lines["0101.29.00"]
    assert other.meta["description"] == "Other"
    assert other.meta["description_full"] == "Other (other than: Pure-bred breeding animals)"
    assert "(Other (other than: Pure-bred breeding animals))" in other.text
    assert "Asses" in lines["0101.90.00"].meta["description_full"]


def test_other_lines_are_searched_without_the_lines_they_exclude(lines):
    other = lines["0805.90.00"]  # "Other (other than: Oranges; Mandarins ...; Grapefruit ...)"
    assert "Oranges" in other.text and "Oranges" in other.read_text
    assert "Oranges" not in other.lexical_text and "Grapefruit" not in other.lexical_text
    assert "tariff item 0805.90.00 (Other) has the rate 0" in other.lexical_text
    assert other.search_text.endswith(other.text)  # what a model would embed still ends with the passage
    oranges = lines["0805.10.00"]
    assert "searched_as" not in oranges.meta and oranges.lexical_text == oranges.search_text


def test_offsets_point_at_the_row(schedule):
    for c in schedule.chunks[:200] + schedule.chunks[-200:]:
        assert collapse(schedule.text[c.start : c.end]) == c.text.splitlines()[0]
    assert "PDF version" not in schedule.text and "Date modified" not in schedule.text


def test_fast_and_deterministic(schedule):
    raw = load(SCHEDULE)
    t0 = time.perf_counter()
    again = parse(raw, _info())
    assert time.perf_counter() - t0 < 10
    assert [c.id for c in again.chunks] == [c.id for c in schedule.chunks]
    assert len({c.id for c in again.chunks}) == len(again.chunks)


def test_caller_kind_is_kept(schedule):
    parsed = parse(load(SCHEDULE), _info(kind="treaty"))
    assert parsed.chunks[0].kind == "treaty" and parsed.info.kind == "treaty"


def test_hierarchical_headings_and_rate_columns(tmp_path):
    page = tmp_path / "schedule.html"
    page.write_text(
        "<html><head><title>x</title></head><body><main><h1>Tariff Schedule of the United States</h1>"
        "<table><thead><tr><th>HTS8</th><th>Description</th><th>Base Rate</th><th>Staging Category</th></tr>"
        "</thead><tbody>"
        "<tr><td>0101</td><td>Live horses, asses, mules and hinnies:</td><td></td><td></td></tr>"
        "<tr><td></td><td>- Horses:</td><td></td><td></td></tr>"
        "<tr><td>0101.21.00</td><td>- - Purebred breeding animals</td><td>Free</td><td>A</td></tr>"
        "<tr><td>0101.29.00</td><td>- - Other</td><td>Free</td><td>A</td></tr>"
        "<tr><td>0101.30.00</td><td>- Asses</td><td>6.8%</td><td>B6</td></tr>"
        "</tbody></table></main></body></html>",
        encoding="utf-8",
    )
    parsed = parse(load(page), DocumentInfo(id="us-sched", title="", kind=""))
    by_key = {c.meta["key"]: c for c in parsed.chunks}
    assert sorted(by_key) == ["0101.21.00", "0101.29.00", "0101.30.00"]
    other = by_key["0101.29.00"]
    assert other.meta["description_full"] == "Live horses, asses, mules and hinnies: Horses: Other"
    assert other.text.splitlines()[0] == "0101.29.00 - - Other Free A"
    asses = by_key["0101.30.00"]
    assert asses.meta["base_rate"] == "6.8%" and asses.meta["staging"] == "B6"
    assert "has a base rate of 6.8% and staging category B6" in asses.text
    assert asses.label == "USMCA Annex 2-B (United States) tariff item 0101.30.00"


@pytest.mark.parametrize(
    ("question", "item"),
    [
        ("What is Canada's rate on 0101.21.00?", "0101.21.00"),
        ("tariff item 010121", "0101.21"),
        ("subheading 0101.21 please", "0101.21"),
        ("is 27090000 duty-free", "2709.00.00"),
        ("HTS 8703.23.0190", "8703.23.01"),
        ("What happened in 2025?", None),
        ("a $1,000,000 question about Article 34.7", None),
    ],
)
def test_normalize_tariff_item(question, item):
    assert normalize_tariff_item(question) == item


def test_a_line_is_found_by_its_heading_s_name_without_quoting_it(lines):
    # The schedule's row says "Pure-bred breeding animals"; the Harmonized System names the heading
    # ("Horses, asses, mules and hinnies; live"). The name is searched (BM25 reads `search_text`)
    # but never quoted nor read by answering (`read_text`), and a subheading renumbered after
    # HS 2017 keeps its heading's name only.
    horses = lines["0101.21.00"]
    names = horses.meta["search_only"]
    assert "HS heading 0101: Horses, asses, mules and hinnies; live." in names
    assert "HS subheading 0101.21: Horses; live, pure-bred breeding animals." in names
    assert names in horses.search_text and names not in horses.read_text
    assert "horses" not in horses.read_text.lower() and horses.search_text.endswith(horses.text)
    tyres = lines["4011.10.00"]
    assert "New pneumatic tyres, of rubber" in tyres.meta["search_only"]
    vaccines = lines["3002.20.00"]  # HS 2017; HS 2022 moved vaccines to 3002.41
    assert "HS heading 3002:" in vaccines.meta["search_only"] and "HS subheading" not in vaccines.meta["search_only"]
    with_name = sum(1 for c in lines.values() if "HS heading" in c.meta.get("search_only", ""))
    assert with_name >= 0.99 * len(lines)
