"""Property-based tests: no command line and no query, however odd, ends in a traceback."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Library, UsageError
from engine.cli.main import _parser
from engine.search.query import parse_query
from engine.testing import write_fake_scan

WORDS = ["index", "search", "status", "show", "remove", "sync", "serve", "worker", "push",
         "pull", "--library", "--json", "--mode", "--limit", "--since", "--until", "--type",
         "--path", "--workers", "--page-timeout", "--port", "--host", "--bucket",
         "--endpoint-url", "--prefix", "--profile", "--scheduler", "--processes",
         "--cluster", "--s3-endpoint", "--lang", "--", "-", "hybrid", "keyword", "semantic"]
odd_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
argument = st.one_of(st.sampled_from(WORDS), odd_text,
                     st.integers(-10**30, 10**30).map(str),
                     st.floats(allow_nan=True, allow_infinity=True).map(str),
                     st.dates().map(str))


@settings(max_examples=400, deadline=None)
@given(st.lists(argument, max_size=8))
def test_the_parser_never_raises_anything_but_a_usage_exit(argv: list[str]) -> None:
    try:
        _parser().parse_args(argv)
    except SystemExit as e:
        assert e.code in (0, 2)


@settings(max_examples=400, deadline=None)
@given(odd_text)
def test_parse_query_accepts_any_text(text: str) -> None:
    parsed = parse_query(text)
    for operator in ("AND", "OR"):
        expression = parsed.fts(operator)
        assert isinstance(expression, str)


@pytest.fixture(scope="module")
def searchable(tmp_path_factory: pytest.TempPathFactory) -> Library:
    from engine.backends.pool import InlineExecutor
    from engine.testing import FakeOcr, HashingEmbedder

    folder = tmp_path_factory.mktemp("props")
    library = Library.open(folder / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                           executor=InlineExecutor())
    library.add([write_fake_scan(folder / "a.png", "alpha beta gamma \"quoted\" NEAR AND OR"),
                 write_fake_scan(folder / "b.png", "delta épsilon ζeta 数字 rent*")])
    return library


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=odd_text, mode=st.sampled_from(["keyword", "hybrid", "semantic", "words"]),
       folder=st.one_of(st.none(), odd_text))
def test_any_query_searches_or_is_a_usage_error(searchable: Library, query: str, mode: str,
                                                folder: str | None) -> None:
    try:
        hits = searchable.search(query, mode=mode, path_prefix=folder or None)
    except UsageError:
        return
    assert all(Path(h.path).name in {"a.png", "b.png"} for h in hits)


def test_argparse_errors_are_exit_2() -> None:
    with pytest.raises(SystemExit) as caught:
        _parser().parse_args(["search"])
    assert caught.value.code == 2
    assert isinstance(_parser(), argparse.ArgumentParser)
