"""Pages as pictures for faces that cannot draw boxes themselves (the HTTP API): the page
turned the way it was read, the query's words marked, scaled down to a width."""

from __future__ import annotations

import io

from engine.errors import UsageError
from engine.library import Library
from engine.search.highlight import matching_word_indexes


def highlighted_page_png(library: Library, doc_id: int, page_no: int, *,
                         query: str | None = None, width: int = 1200) -> bytes:
    """A PNG of the page with query's words marked; UsageError for a page it lacks."""
    from PIL import Image, ImageDraw

    detail = library.document(doc_id)
    page = next((p for p in detail.pages if p.page_no == page_no), None)
    if page is None:
        raise UsageError(f"document {doc_id} has no page {page_no}")
    image = library.page_image(doc_id, page_no).convert("RGB")
    if query:
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        sx, sy = image.width / max(1, page.width), image.height / max(1, page.height)
        for i in matching_word_indexes(page.words, query):
            b = page.words[i].box
            draw.rectangle([b.x * sx - 3, b.y * sy - 3, (b.x + b.w) * sx + 3,
                            (b.y + b.h) * sy + 3], fill=(255, 200, 0, 90),
                           outline=(230, 120, 0, 220), width=3)
        image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
