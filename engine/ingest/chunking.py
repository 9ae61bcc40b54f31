"""Page words into overlapping chunks that remember their page and word span."""

from __future__ import annotations

from engine.models import Chunk, PageText

CHUNK_WORDS = 96
CHUNK_OVERLAP = 24


def chunk_page(
    page: PageText, *, size: int = CHUNK_WORDS, overlap: int = CHUNK_OVERLAP
) -> list[Chunk]:
    """Windows of `size` words stepping by size - overlap; a short tail joins the last."""
    if size <= overlap:
        raise ValueError("chunk size must exceed the overlap")
    words = page.words
    n = len(words)
    if n == 0:
        return []
    step = size - overlap
    chunks: list[Chunk] = []
    start = 0
    while True:
        end = min(n, start + size)
        # Fold a tail shorter than the overlap into this chunk instead of a stub.
        if n - end < overlap // 2:
            end = n
        text = " ".join(w.text for w in words[start:end])
        chunks.append(Chunk(page.page_no, len(chunks), start, end, text))
        if end >= n:
            break
        start += step
    return chunks
