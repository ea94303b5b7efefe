"""The chat page (see ui/chat.py)."""

from ui.chat import render

render()
