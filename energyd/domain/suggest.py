""" "Did you mean ...?": the one way energyd suggests a name for a misspelt one (a config key,
a plugin key, a provider, a command argument)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean"]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """``"did you mean 'region'?"`` for the choice closest to ``word``; ``None`` when none
    is close enough to be worth saying."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean {close[0]!r}?" if close else None
