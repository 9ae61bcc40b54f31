"""What the user typed, parsed: terms, phrases, prefixes, the FTS5 expression; filters."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

_TOKEN = re.compile(r"\w+", re.UNICODE)
# Dropped from the any-word (OR) query only: there they match every page and drown
# the real terms. Exact (AND) queries and phrases keep them.
STOPWORDS = frozenset(
    "a an and are as at be but by for from has have he her his i if in into is it its of on "
    "or our she so than that the their them then there these they this to was we were what "
    "when where which who will with you your".split()
)


def fold(text: str) -> str:
    """Lower case without diacritics, as the FTS5 tokenizer sees it."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True)
class Term:
    """A query word; `prefix` when the user wrote word*."""

    text: str
    prefix: bool = False
    variants: tuple[str, ...] = ()  # indexed words within a small edit distance (OCR errors)

    @property
    def spellings(self) -> tuple[str, ...]:
        """The word and its variants."""
        return (self.text, *self.variants)


@dataclass(frozen=True)
class ParsedQuery:
    """A user query split into phrases and words, safe to hand to FTS5."""

    groups: tuple[tuple[Term, ...], ...]  # a phrase is a group of several terms

    @property
    def terms(self) -> list[Term]:
        """Every term of every group."""
        return [t for g in self.groups for t in g]

    def without_variants(self) -> ParsedQuery:
        """The query as typed, without near spellings."""
        return ParsedQuery(tuple(tuple(Term(t.text, t.prefix) for t in g) for g in self.groups))

    def fts(self, operator: str) -> str:
        """The FTS5 MATCH expression joining the groups with AND or OR."""
        groups = self.groups
        if operator == "OR":
            content = tuple(g for g in groups if len(g) > 1 or g[0].text not in STOPWORDS)
            groups = content or groups
        parts = []
        for group in groups:
            quoted = " ".join(f'"{t.text}"' for t in group)
            if len(group) > 1:
                parts.append(f'"{" ".join(t.text for t in group)}"')
            elif group[0].variants:
                parts.append("(" + " OR ".join(f'"{s}"' for s in group[0].spellings) + ")")
            else:
                parts.append(quoted + ("*" if group[0].prefix else ""))
        return f" {operator} ".join(parts)


def parse_query(query: str) -> ParsedQuery:
    """Words, "quoted phrases" and prefix* terms; every other character is ignored."""
    groups: list[tuple[Term, ...]] = []
    for match in re.finditer(r'"([^"]*)"|(\S+)', query):
        phrase, word = match.group(1), match.group(2)
        if phrase is not None:
            tokens = [fold(t) for t in _TOKEN.findall(phrase)]
            if tokens:
                groups.append(tuple(Term(t) for t in tokens))
            continue
        prefix = word.endswith("*")
        tokens = [fold(t) for t in _TOKEN.findall(word)]
        for i, token in enumerate(tokens):
            groups.append((Term(token, prefix=prefix and i == len(tokens) - 1),))
    return ParsedQuery(tuple(groups))


@dataclass(frozen=True)
class SearchFilters:
    """Narrow results by file type, folder and the file's modification date."""

    kinds: tuple[str, ...] = ()
    path_prefix: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def sql(self) -> tuple[str, list[Any]]:
        """A WHERE fragment over documents `d` and its parameters."""
        clauses = ["d.state = 'indexed'"]
        params: list[Any] = []
        if self.kinds:
            clauses.append(f"d.kind IN ({','.join('?' * len(self.kinds))})")
            params.extend(k.lower() for k in self.kinds)
        if self.path_prefix:
            # A folder, not a text prefix: /scans/2024 holds /scans/2024/a.png, not
            # /scans/2024-old/a.png.
            folder = self.path_prefix.rstrip("/\\") or self.path_prefix
            below = folder if folder.endswith(("/", "\\")) else folder + _separator(folder)
            clauses.append("(d.path = ? OR substr(d.path, 1, ?) = ?)")
            params.extend([folder, len(below), below])
        if self.since:
            clauses.append("d.mtime_ns >= ?")
            params.append(_ns(self.since))
        if self.until:
            clauses.append("d.mtime_ns <= ?")
            params.append(_ns(self.until))
        return " AND ".join(clauses), params

    @property
    def active(self) -> bool:
        """True when any filter narrows the results."""
        return bool(self.kinds or self.path_prefix or self.since or self.until)


_NS_MAX = 2**63 - 1


def _ns(moment: datetime) -> int:
    """A moment as ns since the epoch, clamped to what the index can hold."""
    if moment.tzinfo is None:  # local time; astimezone() fails far from the epoch
        offset = datetime.now().astimezone().utcoffset() or timedelta(0)
        seconds = (moment - datetime(1970, 1, 1)).total_seconds() - offset.total_seconds()
    else:
        seconds = (moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()
    return max(0, min(_NS_MAX, int(seconds * 1e9)))


def _separator(path: str) -> str:
    """The separator a stored path uses (s3:// URLs and POSIX paths: '/')."""
    return "\\" if "\\" in path and "/" not in path else "/"
