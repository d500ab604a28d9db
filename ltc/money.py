"""Money is integer fen everywhere; yuan exist only as text at the edges (pages, forms, files)."""

from __future__ import annotations

import re
import unicodedata

# Up to 15 digits of yuan: 10^17 fen still fits the 64-bit money columns; callers set real caps.
_YUAN = re.compile(r"([0-9]{1,15})(?:\.([0-9]{1,2}))?")


def yuan(fen: int | None) -> str:
    """12345678 → `¥123,456.78`, for pages; exact, no floats. None → ""."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def plain_yuan(fen: int) -> str:
    """45000 → `450.00`: no sign of currency, no thousands separator, for form fields, bank
    files and sentences that say 元 themselves (a form reads it back with parse_yuan)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def parse_yuan(text: str) -> int:
    """`80` / `80.5` / `¥1,080.00` / `80元` (full-width digits too) → fen. ValueError for
    anything else, negative amounts and a third decimal included."""
    cleaned = (unicodedata.normalize("NFKC", text).strip().removeprefix("¥")
               .removesuffix("元").replace(",", "").strip())
    match = _YUAN.fullmatch(cleaned)
    if not match:
        raise ValueError(text)
    return int(match[1]) * 100 + int((match[2] or "").ljust(2, "0"))
