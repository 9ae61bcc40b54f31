"""Size and start-up report of the packaged install (dist/Scandex), for docs/packaging.md.

python scripts/bundle_report.py [BUNDLE] [--write]
Prints the total size, the biggest parts, and how long the bundled window takes to show
(process start to window.show(), best and worst of 3; under Xvfb when it is installed,
else offscreen) and how long `scandex --help` takes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def size_of(path: Path) -> int:
    """Bytes under path (files only, symlinks not followed)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def biggest_parts(bundle: Path, count: int = 12) -> list[tuple[str, int]]:
    """The largest entries of _internal, with torch's one huge library on its own line."""
    internal = bundle / "_internal"
    # Symlinks (PyInstaller links Qt's libraries to the top) are not counted twice.
    entries = [p for p in internal.iterdir() if not p.is_symlink()]
    loose = sum(p.stat().st_size for p in entries if p.is_file())
    parts = [(f"{p.name}/", size_of(p)) for p in entries if p.is_dir()]
    parts.append(("shared libraries at the top of _internal", loose))
    torch_cpu = internal / "torch" / "lib" / "libtorch_cpu.so"
    if torch_cpu.exists():
        parts.append(("  of which torch/lib/libtorch_cpu.so", torch_cpu.stat().st_size))
    return sorted(parts, key=lambda item: -item[1])[:count]


def window_times(bundle: Path, runs: int = 3) -> tuple[list[float], str]:
    """Seconds from launching scandex-desktop to its window being shown."""
    display = "xvfb" if shutil.which("xvfb-run") and not os.environ.get("DISPLAY") else (
        "display" if os.environ.get("DISPLAY") else "offscreen")
    times = []
    with tempfile.TemporaryDirectory() as home:
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "HF_HUB_OFFLINE": "1",
               "XDG_CONFIG_HOME": f"{home}/cfg", "SCANDEX_LIBRARY": f"{home}/lib"}
        if display == "offscreen":
            env["QT_QPA_PLATFORM"] = "offscreen"
        elif display == "display":
            env["DISPLAY"] = os.environ["DISPLAY"]
        command = [str(bundle / "scandex-desktop"), "--quit-after", "0.3"]
        if display == "xvfb":
            command = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", *command]
        for _ in range(runs):
            launched = time.time()
            out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
            lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
            if not lines:
                raise RuntimeError(f"the bundled window did not report: {out.stderr[-2000:]}")
            times.append(json.loads(lines[-1])["window_shown_at"] - launched)
    return times, display


def help_time(bundle: Path) -> float:
    """Seconds for `scandex --help` (imports kept lazy)."""
    started = time.perf_counter()
    subprocess.run([str(bundle / "scandex"), "--help"], capture_output=True, check=True,
                   timeout=120)
    return time.perf_counter() - started


def report(bundle: Path) -> str:
    """The markdown section."""
    total = size_of(bundle)
    rows = ["| part | size |", "|---|---|"]
    rows += [f"| `{name}` | {size / 2**20:.0f} MiB |" for name, size in biggest_parts(bundle)]
    times, display = window_times(bundle)
    machine = f"{platform.node()} ({os.cpu_count()} cores, {platform.machine()})"
    tesseract = size_of(bundle / "_internal" / "tesseract")
    lines = [
        f"Measured {date.today().isoformat()} on {machine} with "
        "`python scripts/bundle_report.py` after `make package`.",
        "",
        f"- Bundle size: **{total / 2**20:.0f} MiB** on disk "
        f"({sum(1 for _ in bundle.rglob('*'))} files); Tesseract with eng+osd is "
        f"{tesseract / 2**20:.0f} MiB of it.",
        f"- Window shown after launch ({display}, best of {len(times)}): "
        f"**{min(times):.2f} s**, worst {max(times):.2f} s (target 3 s).",
        f"- `scandex --help`: {help_time(bundle):.2f} s.",
        "",
        *rows,
    ]
    return "\n".join(lines)


def write_section(text: str, doc: Path) -> None:
    """Replace the generated section of docs/packaging.md."""
    begin, end = "<!-- bundle-report:begin -->", "<!-- bundle-report:end -->"
    current = doc.read_text()
    block = f"{begin}\n{text}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    doc.write_text(pattern.sub(lambda _m: block, current) if begin in current
                   else current + "\n" + block + "\n")


def main() -> int:
    """Print the report; --write also puts it into docs/packaging.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("bundle", nargs="?", default=str(ROOT / "dist" / "Scandex"))
    parser.add_argument("--write", action="store_true", help="update docs/packaging.md")
    args = parser.parse_args()
    bundle = Path(args.bundle)
    if not (bundle / "scandex").exists():
        print(f"no bundle in {bundle}: run 'make package' first", file=sys.stderr)
        return 2
    text = report(bundle)
    print(text)
    if args.write:
        write_section(text, ROOT / "docs" / "packaging.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
