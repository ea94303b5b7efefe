"""The recommendations page (see ui/recommendations.py)."""

from ui.recommendations import render

render()
