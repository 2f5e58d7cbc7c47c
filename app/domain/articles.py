"""A feed entry's text as DeskPilot keeps it, and the fingerprint that finds the same story
under another URL.

Feeds put HTML in summaries (`<p>`, links, `&amp;`), so the text is stripped of tags and
entities and its whitespace collapsed before it is scored, shown or hashed. The content
hash is the SHA-256 of the normalised title and summary — NFKC, case-folded, whitespace
collapsed — so a syndicated copy that differs only in markup, case or spacing is the
same article.
"""

import hashlib
import html
import re
import unicodedata

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def plain_text(markup: str | None) -> str:
    """Readable text from a feed field that may hold HTML."""
    if not markup:
        return ""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", markup))).strip()


def _normalised(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def content_hash(title: str, summary: str) -> str:
    """SHA-256 (hex) of the normalised title and summary, the two kept apart by a newline."""
    joined = f"{_normalised(title)}\n{_normalised(summary)}"
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()
