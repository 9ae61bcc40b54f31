"""Page words into overlapping chunks that remember their page and word span."""

from __future__ import annotations

from collections.abc import Sequence

from engine.ingest.mending import mend_words
from engine.models import Chunk, PageText

CHUNK_WORDS = 96
CHUNK_OVERLAP = 24


def chunk_document(pages: Sequence[PageText]) -> list[Chunk]:
    """A document's chunks, page by page, their text mended where OCR broke words (the
    document's words are counted together: see engine.ingest.mending)."""
    mended = mend_words([w.text for page in pages for w in page.words])
    chunks: list[Chunk] = []
    start = 0
    for page in pages:
        texts = mended[start : start + len(page.words)]
        start += len(page.words)
        chunks += chunk_page(page, texts=texts)
    return chunks


def chunk_page(
    page: PageText, *, size: int = CHUNK_WORDS, overlap: int = CHUNK_OVERLAP,
    texts: Sequence[str] | None = None,
) -> list[Chunk]:
    """Windows of `size` words stepping by size - overlap; a short tail joins the last.
    texts: the words' text as indexed (default: as read)."""
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
        text = " ".join(texts[start:end] if texts is not None
                        else (w.text for w in words[start:end]))
        chunks.append(Chunk(page.page_no, len(chunks), start, end, text))
        if end >= n:
            break
        start += step
    return chunks
