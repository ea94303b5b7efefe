"""The evaluation page (see ui/evaluation.py)."""

from ui.evaluation import render

render()
