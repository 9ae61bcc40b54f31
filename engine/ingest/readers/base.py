"""What every reader shares: the page plan and the pixel limit."""

from __future__ import annotations

from dataclasses import dataclass

from engine.models import PageText

# A page of more pixels than this is refused (an A0 sheet at 300 dpi is ~140 MP).
MAX_PAGE_PIXELS = 150_000_000


@dataclass(frozen=True)
class PagePlan:
    """One page of a document: either its text is already known, or it must be OCR'd."""

    page_no: int  # 1-based
    text: PageText | None  # set when the page had a usable text layer
