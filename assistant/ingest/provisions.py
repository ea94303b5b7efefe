"""Lookup keys a passage answers for besides its own (`meta["key"]`), read from its text when the
index snapshot is loaded, so that an index built before needs no rebuild. Plain regular expressions:
the index layer imports this without the HTML parser."""

from __future__ import annotations

import re

# a Table 1 provision of the U.S. TRQ appendix ("AG18062077"; a question may write "ag 18062077")
PROVISION_CODE = re.compile(r"\bAG ?(\d{8})\b", re.I)
_ROW_ITEM = re.compile(r"\btariff item (\d{4})\.?(\d{2})\.?(\d{2})\b", re.I)


def named_keys(text: str, table: bool) -> list[str]:
    """Lookup keys a passage answers for besides its own: the Table 1 provisions ("AG18062077") it
    names, and in a table, the tariff items its rows are provided for in, dotted ("Provided for in
    tariff item 18062077" -> "1806.20.77"): the U.S. TRQ appendix writes the U.S. item without
    dots, a question writes it with them ("HTS 1806.20.77")."""
    keys = [f"ag{m.group(1)}" for m in PROVISION_CODE.finditer(text)]
    if table:
        keys += [f"{m.group(1)}.{m.group(2)}.{m.group(3)}" for m in _ROW_ITEM.finditer(text)]
    return list(dict.fromkeys(keys))
