"""The window's intelligence, driven like a user: tag chips and the tag filter, a
result's menu (more like this, one-click suggested tags), the Duplicates view (side by
side, remove) and the Map (hover text, click opens)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QAbstractItemModel
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QWidget

from desktop.models import SnippetHtmlRole
from engine.testing import write_fake_scan
from tests.desktop.conftest import drop_paths

RECEIPT = "HARBOUR SUPPLIES receipt 20240311 rope 1299 buoy 4550 total 8456 thank you"


def rows(view: QAbstractItemView) -> list[str]:
    model: QAbstractItemModel = view.model()
    return [model.index(r, 0).data() for r in range(model.rowCount())]


@pytest.fixture
def window(make_window, qtbot, tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "scans"
    folder.mkdir()
    write_fake_scan(folder / "receipt.png", RECEIPT)
    write_fake_scan(folder / "receipt-rescan.png", RECEIPT.replace("thank", "tbank"))
    write_fake_scan(folder / "till-receipt.png", "GREEN GROCER receipt total cash 1250 vat")
    write_fake_scan(folder / "letter.png", "dear neighbour the orchard frost kind regards")
    write_fake_scan(folder / "note.png", "dear friend the garden frost yours truly")
    shutil.copy(folder / "letter.png", folder / "letter-copy.png")
    w = make_window()
    drop_paths(w, [folder])
    qtbot.waitUntil(lambda: len(rows(w.library_view)) == 6, timeout=20_000)
    return w


def _search(window, qtbot, text: str) -> list[str]:  # type: ignore[no-untyped-def]
    window.search_mode.setCurrentIndex(window.search_mode.findData("keyword"))
    window.search_input.setText(text)
    window.run_search()
    qtbot.waitUntil(lambda: window.results_label.text() != "Searching…", timeout=20_000)
    return rows(window.results_view)


def test_suggested_tag_with_one_click_then_chips_and_filter(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    assert _search(window, qtbot, "receipt")
    hits = {Path(h.path).stem: h for h in window.results_model.hits}
    window.set_tag(hits["receipt"], "receipts", True)
    window.set_tag(hits["letter"] if "letter" in hits else hits["receipt"], "shop", True)
    qtbot.waitUntil(lambda: any(h.tags for h in window.results_model.hits), timeout=20_000)
    _search(window, qtbot, "receipt")
    hits = {Path(h.path).stem: h for h in window.results_model.hits}
    menu = window.result_menu(hits["till-receipt"])
    suggested = menu.findChild(QWidget, "suggestedTags")
    qtbot.waitUntil(lambda: suggested.isEnabled(), timeout=20_000)
    first = suggested.actions()[0]
    assert first.text().split()[0] in {"receipts", "shop"}
    first.trigger()  # one click
    qtbot.waitUntil(lambda: any(Path(h.path).stem == "till-receipt" and h.tags
                                for h in window.results_model.hits), timeout=20_000)
    chip = window.results_model.index(
        [Path(h.path).stem for h in window.results_model.hits].index("till-receipt"))
    assert "background:#d7e3fc" in chip.data(SnippetHtmlRole)
    tag_filter = window.findChild(QLineEdit, "tagFilter")
    tag_filter.setText("receipts")
    window.run_search()
    qtbot.waitUntil(lambda: all(
        "receipts" in h.tags for h in window.results_model.hits), timeout=20_000)


def test_more_like_this(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    _search(window, qtbot, "orchard")
    letter = window.results_model.hits[0]
    window.more_like_this(letter)
    qtbot.waitUntil(lambda: f"like {Path(letter.path).name}" in window.results_label.text()
                    and "Finding" not in window.results_label.text(), timeout=20_000)
    names = [Path(h.path).stem for h in window.results_model.hits]
    assert names and "letter" not in names and "letter-copy" not in names


def test_duplicates_view_side_by_side_and_remove(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = window.show_duplicates()
    qtbot.waitUntil(lambda: len(dialog.groups) == 2, timeout=20_000)
    qtbot.waitUntil(lambda: all(not label.pixmap().isNull() for label in dialog.pages),
                    timeout=20_000)
    group = dialog.tree.topLevelItem(0)
    dialog.tree.setCurrentItem(group.child(1))
    removed = dialog.selected_document()
    assert removed is not None and dialog.remove_button.isEnabled()
    dialog.remove_selected(confirm=False)
    qtbot.waitUntil(lambda: len(dialog.groups) == 1, timeout=20_000)
    assert all(d.id != removed.id for d in window.bridge._library().documents())
    assert Path(removed.path).exists()  # the file is never touched
    dialog.close()


def test_map_hover_and_click(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = window.show_map()
    qtbot.waitUntil(lambda: len(dialog.points) == 6, timeout=30_000)
    item = next(p for p in dialog.points if Path(p.point.path).stem == "letter")
    assert "letter.png" in item.toolTip() and "orchard" in item.toolTip()
    assert all(0 <= p.point.x <= 1 and 0 <= p.point.y <= 1 for p in dialog.points)
    dialog.documentChosen.emit(item.point)
    qtbot.waitUntil(lambda: window.view_model.current_hit is not None
                    and window.view_model.current_hit.id == item.point.id, timeout=20_000)
    dialog.close()


def test_the_map_and_duplicates_follow_the_library(window, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    chart, duplicates = window.show_map(), window.show_duplicates()
    qtbot.waitUntil(lambda: len(chart.points) == 6 and len(duplicates.groups) == 2,
                    timeout=30_000)
    more = tmp_path / "more"
    more.mkdir()
    write_fake_scan(more / "note-rescan.png", "dear friend the garden frost yours truIy")
    drop_paths(window, [more])
    # Both redraw by themselves once the drop is indexed: a new point, a new group.
    qtbot.waitUntil(lambda: len(chart.points) == 7 and len(duplicates.groups) == 3,
                    timeout=30_000)
    assert any("note-rescan.png" in p.toolTip() for p in chart.points)
    # A tag given through the window recolours the map.
    note = next(p.point for p in chart.points if Path(p.point.path).stem == "note")
    hit = next(h for h in window.bridge._library().search("garden", mode="keyword")
               if h.id == note.id)
    window.set_tag(hit, "post", True)
    qtbot.waitUntil(lambda: any(p.point.id == note.id and p.point.tags == ("post",)
                                for p in chart.points), timeout=30_000)
    chart.close()
    duplicates.close()
