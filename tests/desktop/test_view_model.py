"""The window's Qt-free view-model: searches, late answers, the previewed hit, texts."""

from __future__ import annotations

from datetime import datetime

from desktop.view_model import WindowViewModel
from engine import IndexProgress, IndexReport, SearchHit, SearchMode


def _hit(doc_id: int, page: int = 1) -> SearchHit:
    return SearchHit(id=doc_id, path=f"/scans/{doc_id}.png", kind="png", page=page,
                     score=1.0, snippet="", boxes=[], page_width=10, page_height=10)


def test_empty_query_clears_and_sends_nothing() -> None:
    model = WindowViewModel(hits=[_hit(1)])
    assert model.new_search("   ", "hybrid") is None
    assert model.hits == []


def test_request_carries_mode_and_filters() -> None:
    model = WindowViewModel()
    now = datetime(2026, 11, 30, 12, 0)
    request = model.new_search(" rent ", "keyword", kind="pdf", folder=" /scans ", days=7,
                               now=now)
    assert request is not None
    options = request.options()
    assert request.query == "rent" and options["mode"] is SearchMode.KEYWORD
    assert options["kinds"] == ["pdf"] and options["path_prefix"] == "/scans"
    assert options["since"] == datetime(2026, 11, 23, 12, 0)


def test_a_late_answer_to_an_older_search_is_dropped() -> None:
    model = WindowViewModel()
    first = model.new_search("rent", "hybrid")
    second = model.new_search("rent increase", "hybrid")
    assert first is not None and second is not None
    assert not model.accept_results(first.number, [_hit(1)])
    assert model.hits == []
    assert model.accept_results(second.number, [_hit(2)])
    assert [h.id for h in model.hits] == [2]
    assert model.results_text() == "1 document(s) match."


def test_no_matches_forgets_the_previewed_hit() -> None:
    model = WindowViewModel()
    request = model.new_search("zebra", "hybrid")
    assert request is not None
    model.show_hit(_hit(3, page=2))
    assert model.current_page == 2
    model.accept_results(request.number, [])
    assert model.current_hit is None and model.results_text().startswith("No matches.")
    assert "zebra*" in model.results_text()


def test_no_matches_suggests_what_to_try() -> None:
    model = WindowViewModel()
    request = model.new_search("rent increase", "keyword", kind="pdf", folder="/scans")
    assert request is not None
    model.accept_results(request.number, [])
    text = model.results_text()
    assert "filters" in text and "Meaning" in text and "increase*" in text


def test_page_navigation_stays_in_range() -> None:
    model = WindowViewModel()
    assert not model.page_in_range(1, 3)
    model.show_hit(_hit(4), 1)
    assert model.page_in_range(3, 3) and not model.page_in_range(4, 3)
    assert not model.page_in_range(0, 3)


def test_progress_and_summary_texts() -> None:
    model = WindowViewModel()
    text = model.progress(IndexProgress(files_total=4, files_done=1, files_failed=0,
                                        files_skipped=0, pages_done=3, pages_total=10,
                                        elapsed_s=3.0, current="/scans/a.png"))
    assert text.startswith("1/4 files · 3/10 pages") and text.endswith("a.png")
    assert model.last_progress is not None
    report = IndexReport(indexed=2, pages=5, seconds=1.5, cancelled=True)
    assert model.finished(report).startswith("Cancelled: 2 indexed")
    skipped = IndexReport(indexed=1, skipped_not_scans=3)
    assert model.finished(skipped).endswith("3 other file(s) skipped: not scans")
    failed_before = IndexReport(skipped_unchanged=5, skipped_failed_before=2)
    assert "2 unchanged file(s) failed before" in model.finished(failed_before)
    assert "Retry failed" in model.finished(failed_before)


def test_eta_counts_the_files_not_yet_opened() -> None:
    early = IndexProgress(files_total=10, files_done=0, files_failed=0, files_skipped=0,
                          pages_done=5, pages_total=10, elapsed_s=5.0, files_planned=2)
    assert early.pages_expected == 50
    assert early.eta_s == 45.0  # 45 pages left at 1 page/s, not 5
    text = WindowViewModel().progress(early)
    assert "5/10 pages (about 50 in all)" in text
    done = IndexProgress(files_total=10, files_done=10, files_failed=0, files_skipped=0,
                         pages_done=50, pages_total=50, elapsed_s=50.0, files_planned=10)
    assert done.pages_expected == 50 and done.eta_s == 0.0


def test_the_add_dialog_offers_every_scan_type_in_both_cases() -> None:
    from desktop.view_model import SCAN_FILTER

    assert "*.heic *.HEIC" in SCAN_FILTER and "*.jpg *.JPG" in SCAN_FILTER
    assert "*.pgm" in SCAN_FILTER and SCAN_FILTER.endswith(";;All files (*)")
