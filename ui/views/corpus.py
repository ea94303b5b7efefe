"""The corpus page (see ui/corpus.py)."""

from ui.corpus import render

render()
