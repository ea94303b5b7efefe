"""The weights of a question's search terms when tariff lines are searched (fitted, a data file).

Questions for a tariff line wrap the good in words that name no good ("charge", "Canadian",
"plant", "sell"), and BM25 weighs them by their rarity among the passages, so a line that happens
to hold them outranks the line of the good. `data/line_term_weights.json` holds, for each term
common in the tuning questions whose evidence is a line of Canada's schedule, how often that line
holds it when the question does (a relevance weight; bench/fit_line_terms.py fits it and prints
its two-fold check). Terms it does not name weigh 1. Its keys are `index.lexical.tokenize` terms
(stems): a change to the tokenizer calls for a refit.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

WEIGHTS_FILE = Path(__file__).resolve().parent / "data" / "line_term_weights.json"


@lru_cache(maxsize=1)
def line_term_weights() -> dict[str, float]:
    """The fitted weights by search term (empty, with a warning, when the file is unreadable)."""
    try:
        return {str(t): float(w) for t, w in json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))["weights"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        log.warning("tariff-line term weights not read (%s): lines are searched unweighted", e)
        return {}
