"""How vectors and word boxes are stored in SQLite: little-endian float32 BLOBs, JSON words."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.models import Box, Word

if TYPE_CHECKING:
    import numpy as np  # loaded where used: keyword-only processes never need it


def to_blob(vector: np.ndarray) -> bytes:
    """Little-endian float32 bytes, as stored in SQLite."""
    import numpy as np

    return np.asarray(vector, dtype="<f4").tobytes()


def words_to_json(words: Sequence[Word]) -> str:
    """Words as compact JSON rows [text, x, y, w, h, conf] (pages.words)."""
    return json.dumps(
        [[w.text, w.box.x, w.box.y, w.box.w, w.box.h, round(w.conf, 1)] for w in words],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def words_from_json(text: str) -> list[Word]:
    """Inverse of the compact word encoding stored in pages.words."""
    return [Word(t, Box(x, y, w, h), c) for t, x, y, w, h, c in json.loads(text)]
