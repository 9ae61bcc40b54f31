"""Argument types for the `scandex` parser: every number, date, address and name is
checked where it is parsed, so a bad value is a usage error (exit 2) with a hint, never a
traceback further in."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime

from engine.errors import UsageError

# Dates outside these bounds cannot be file modification times (and overflow the index).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2262, 4, 11, tzinfo=UTC)  # the last day a 64-bit ns timestamp holds
_SCHEDULER = re.compile(r"^(tcp|tls)://[^\s/:]+:\d{1,5}$|^local:\d{1,3}$")


def bounded_int(name: str, low: int, high: int) -> Callable[[str], int]:
    """An integer in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, not {text!r}"
                                             ) from e
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{name} must be between {low} and {high}")
        return value

    return parse


def seconds(name: str, high: float) -> Callable[[str], float]:
    """A finite, positive number of seconds up to high."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"{name} must be a number of seconds, not "
                                             f"{text!r}") from e
        if not math.isfinite(value) or not 0 < value <= high:
            raise argparse.ArgumentTypeError(f"{name} must be more than 0 and at most "
                                             f"{high:g} seconds")
        return value

    return parse


def date(text: str) -> datetime:
    """YYYY-MM-DD (or an ISO 8601 time) between 1970 and 2262."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD)") from e
    low, high = (EARLIEST, LATEST) if value.tzinfo else (
        EARLIEST.replace(tzinfo=None), LATEST.replace(tzinfo=None))
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{text!r} is outside 1970-01-01 .. 2262-04-10")
    return value


def endpoint_url(text: str) -> str:
    """An http(s) URL of an S3-compatible endpoint."""
    from engine.backends.s3 import check_endpoint_url

    try:
        return check_endpoint_url(text.strip())
    except UsageError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def bucket_name(text: str) -> str:
    """A bucket name as S3-compatible stores accept them (3-255 characters, no '/')."""
    from engine.backends.s3 import RemoteConfig

    try:
        return RemoteConfig(bucket=text.strip()).bucket
    except UsageError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def scheduler_address(text: str) -> str:
    """tcp://HOST:PORT, tls://HOST:PORT or local:N."""
    address = text.strip()
    if not _SCHEDULER.match(address):
        raise argparse.ArgumentTypeError(
            f"{text!r} is no scheduler address: use tcp://HOST:8786 (or local:N to --cluster)")
    return address


def library_dir(text: str) -> str:
    """A non-empty folder path."""
    if not text.strip():
        raise argparse.ArgumentTypeError("--library needs a folder")
    return text
