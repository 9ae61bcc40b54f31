"""What the user typed, parsed: terms, phrases, prefixes, the FTS5 expression; filters."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

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


# ASCII characters that are no part of a word token, as spaces: translate + split tokenizes
# ASCII text as _TOKEN does, in half the time.
_ASCII_BREAKS = {i: " " for i in range(128) if not (chr(i).isalnum() or chr(i) == "_")}


def tokens(folded: str) -> list[str]:
    """_TOKEN's tokens of folded text (its word-character runs)."""
    if folded.isascii():
        return folded.translate(_ASCII_BREAKS).split()
    found: list[str] = _TOKEN.findall(folded)
    return found


_INDEX_WORD = re.compile(r"[^\W_]+")


def index_words(text: str) -> set[str]:
    """The distinct words FTS5's unicode61 tokenizer (diacritics removed) makes of text:
    runs of letters and digits, folded."""
    return set(_INDEX_WORD.findall(fold(text)))


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
