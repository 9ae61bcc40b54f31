"""Size of the Docker build context with and without .dockerignore (for docs/docker.md)."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rules() -> list[tuple[bool, str]]:
    """(include?, pattern) in file order, Docker's last-match-wins semantics."""
    out = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append((line.startswith("!"), line.lstrip("!").rstrip("/")))
    return out


def matches(rel: str, pattern: str) -> bool:
    """Docker's matching, anchored at the context root; a folder pattern covers its tree."""
    if pattern == "**":
        return True
    if pattern.startswith("**/"):
        tail = pattern[3:]
        parts = rel.split("/")
        return any(fnmatch.fnmatch("/".join(parts[i:i + len(tail.split("/"))]), tail)
                   for i in range(len(parts)))
    return fnmatch.fnmatch(rel, pattern) or rel.startswith(pattern + "/")


def kept(rel: str, patterns: list[tuple[bool, str]]) -> bool:
    """Whether a file is sent to the builder (the last matching rule wins)."""
    keep = True
    for include, pattern in patterns:
        if matches(rel, pattern):
            keep = include
    return keep


def main() -> None:
    """Print both sizes."""
    patterns = rules()
    total = sent = files_total = files_sent = 0
    for root, _dirs, files in os.walk(ROOT):
        for name in files:
            path = Path(root) / name
            rel = path.relative_to(ROOT).as_posix()
            size = path.lstat().st_size
            total += size
            files_total += 1
            if kept(rel, patterns):
                sent += size
                files_sent += 1
    print(f"without .dockerignore: {total / 2**20:.1f} MiB in {files_total} files")
    print(f"with .dockerignore:    {sent / 2**20:.1f} MiB in {files_sent} files")


if __name__ == "__main__":
    main()
