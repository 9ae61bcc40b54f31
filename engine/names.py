"""File names that come from outside (uploads, buckets) made safe to use on disk."""

import re
import unicodedata

_SAFE_NAME = re.compile(r"[^\w.\- ]+")


def safe_filename(name: str | None, fallback: str) -> str:
    """A basename with no separators, control characters or leading dots."""
    base = (name or "").replace("\\", "/").split("/")[-1]
    base = unicodedata.normalize("NFC", base).replace("\x00", "")
    base = _SAFE_NAME.sub("_", base).strip(" .")[:120]
    return base or fallback
