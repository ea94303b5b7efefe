"""Does a question want tariff lines among its candidates? A logistic model on its MiniLM vector.

Canada's 7,749 tariff lines crowd out prose when every question searches them, so retrieval lets
them in only when the question asks for them. The phrase rules of `retrieve.analysis` (a tariff
item, "tariff rate", a party's schedule named) miss much of how negotiators ask: "Which Canadian
line do rotors fall under?", "What does Canada charge on ...", "¿Con qué código las recibe
Canadá?". This model reads the vector retrieval computes anyway; it is fitted by
bench/fit_line_gate.py on the tuning sets, and it answers only for the embedder it was fitted with.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

GATE_FILE = Path(__file__).resolve().parent / "data" / "line_gate.json"

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)  # an array field: compared by identity
class LineGate:
    model: str  # the embedder whose vectors it reads
    bias: float
    weights: np.ndarray
    threshold: float

    def probability(self, vector: np.ndarray) -> float:
        return float(1.0 / (1.0 + np.exp(-(self.bias + float(vector @ self.weights)))))

    def asks_for_lines(self, vector: np.ndarray) -> bool:
        return self.probability(vector) > self.threshold


@lru_cache(maxsize=4)
def gate_for(model_name: str, dimension: int = 0) -> LineGate | None:
    """The gate fitted on `model_name`'s vectors; None for any other embedder (the phrase rules
    alone then decide), or when the file is missing or its weights do not fit `dimension` (when
    given), which is logged."""
    if not GATE_FILE.exists():
        log.warning("no tariff-line gate at %s: the phrase rules alone decide when lines are searched", GATE_FILE)
        return None
    data = json.loads(GATE_FILE.read_text(encoding="utf-8"))
    if data["model"] != model_name:
        return None
    weights = np.asarray(data["weights"], dtype=np.float32)
    if dimension and len(weights) != dimension:
        log.warning("the tariff-line gate has %d weights for %d-d vectors: not used", len(weights), dimension)
        return None
    return LineGate(data["model"], float(data["bias"]), weights, float(data["threshold"]))
