"""Characters a database refuses in text: PostgreSQL refuses NUL, and both engines' drivers
refuse lone surrogates (what invalid UTF-8 becomes when decoded leniently). The web's input
guard and the CSV reader refuse them with the same rule, before any query sees them."""

from __future__ import annotations

import re

REFUSED = re.compile("[\x00\ud800-\udfff]")


def refused(text: str) -> bool:
    """The text holds a character no database stores."""
    return REFUSED.search(text) is not None
