"""Watch folders, measured: `python -m bench watch`.

A real `scandex watch` process (real Tesseract) in each mode: how long until a file copied
in is searchable, a burst of 200 scans (every one indexed, none failed), and the
watcher's idle CPU on a 10,000-file tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont


def _scan(path: Path, words: str, *, in_place: bool = False) -> None:
    page = Image.new("L", (1000, 400), 255)
    ImageDraw.Draw(page).text((40, 150), words, font=ImageFont.load_default(size=40), fill=0)
    if in_place:  # rewritten under its name: no folder's time changes
        page.save(path, format="PNG")
        return
    staged = path.with_name("." + path.name)
    page.save(staged, format="PNG")
    staged.rename(path)  # lands whole, as a scanner's file does


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _found(library: Path, query: str) -> int:
    out = subprocess.run([sys.executable, "-m", "engine.cli.main", "--library", str(library),
                          "search", query, "--mode", "keyword", "--json", "--limit", "1000"],
                         capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        return 0
    return len(json.loads(out.stdout)["results"])


def _one_mode(work: Path, poll: float | None) -> dict[str, Any]:
    inbox, library = work / "inbox", work / "lib"
    tree = inbox / "archive"
    tree.mkdir(parents=True)
    for i in range(10_000):  # an existing archive of non-scan files to walk on every look
        (tree / f"{i // 500:02}").mkdir(exist_ok=True)
        (tree / f"{i // 500:02}" / f"note{i}.txt").write_text("x")
    command = [sys.executable, "-m", "engine.cli.main", "--library", str(library), "watch",
               str(inbox), "--json"] + (["--poll", str(poll)] if poll else [])
    watch = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
    try:
        assert watch.stdout is not None
        watch.stdout.readline()  # the catch-up batch
        time.sleep(3)
        idle_start, cpu_start = time.monotonic(), _cpu_seconds(watch.pid)
        time.sleep(30)
        idle = (_cpu_seconds(watch.pid) - cpu_start) / (time.monotonic() - idle_start)
        written = time.monotonic()
        _scan(inbox / "single.png", "zebracrossing singleton")
        while not _found(library, "zebracrossing"):
            time.sleep(0.2)
        latency = time.monotonic() - written
        time.sleep(1)
        rewritten = time.monotonic()
        _scan(inbox / "single.png", "quaggastripes rewritten", in_place=True)
        while not _found(library, "quaggastripes"):
            time.sleep(0.2)
        rewrite_s = time.monotonic() - rewritten
        burst = inbox / "burst"
        burst.mkdir()
        started = time.monotonic()
        for i in range(200):
            _scan(burst / f"page{i:03}.png", f"burstpage number{i}")
        count, last_growth = 0, time.monotonic()
        while count < 200 and time.monotonic() - last_growth < 60:
            time.sleep(1)
            now = _found(library, "burstpage")
            if now > count:
                count, last_growth = now, time.monotonic()
        burst_s = last_growth - started
        status = subprocess.run([sys.executable, "-m", "engine.cli.main", "--library",
                                 str(library), "status", "--json"], capture_output=True,
                                text=True)
        failed = len(json.loads(status.stdout).get("failures", []))
    finally:
        watch.terminate()
        watch.wait(timeout=60)
    return {"mode": f"poll {poll:g} s" if poll else "events", "idle_cpu_pct": round(idle * 100, 2),
            "searchable_after_s": round(latency, 1), "rewrite_after_s": round(rewrite_s, 1),
            "burst_200_s": round(burst_s, 1), "burst_indexed": count,
            "failed": failed}


def bench_watch(work: Path) -> None:
    """Print one row per mode and a JSON line."""
    rows = [_one_mode(work / "events", None), _one_mode(work / "poll", 2.0)]
    print("| mode | idle CPU (10k-file tree) | one file searchable after | rewritten in place "
          "| 200-file burst | indexed | failed |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['idle_cpu_pct']}% | {r['searchable_after_s']} s "
              f"| {r['rewrite_after_s']} s | {r['burst_200_s']} s | {r['burst_indexed']} "
              f"| {r['failed']} |")
    print(json.dumps(rows))
