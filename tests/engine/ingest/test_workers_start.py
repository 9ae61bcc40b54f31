"""A pool whose workers die before they are ready stops the run with what to do, instead
of failing every file as 'crashed twice (out of memory?)'."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from engine import Library
from engine.backends.pool import LocalPoolExecutor
from engine.protocols import OcrOptions, OcrResult
from engine.testing import FAKE_TEXT_KEY, FakeOcr, HashingEmbedder, write_fake_scan

ROOT = Path(__file__).resolve().parents[3]
# The classic mistake: no `if __name__ == "__main__":`, so each spawned worker runs the
# script again and dies on the library its parent holds.
UNGUARDED = """
import sys
from engine import Library
from engine.testing import FakeOcr, HashingEmbedder
library = Library.open(sys.argv[1], embedder=HashingEmbedder(), ocr=FakeOcr())
print("indexed", library.add([sys.argv[2]]).indexed)
"""


def test_an_unguarded_script_is_told_to_guard_its_calls(tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    for i in range(3):
        write_fake_scan(scans / f"page{i}.png", f"page number {i}")
    script = tmp_path / "index_my_scans.py"
    script.write_text(UNGUARDED)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "lib"), str(scans)],
                         capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert out.returncode != 0
    assert "WorkersWontStart" in out.stderr and "__name__" in out.stderr, out.stderr[-2000:]
    assert "indexed" not in out.stdout
    # Nothing was recorded as failed: the guarded script indexes every page.
    guarded = UNGUARDED.replace("library = ", "if __name__ == '__main__':\n    library = ") \
        .replace('print("indexed"', '    print("indexed"')
    script.write_text(guarded)
    again = subprocess.run([sys.executable, str(script), str(tmp_path / "lib"), str(scans)],
                           capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.strip() == "indexed 3"


@dataclass(frozen=True)
class CrashingOcr(FakeOcr):
    """Kills its worker process on a page that says so, as the OOM killer would."""

    def ocr(self, image: Image.Image, options: OcrOptions) -> OcrResult:
        if image.info.get(FAKE_TEXT_KEY) == "!die":
            time.sleep(0.1)  # its neighbours are being read when it dies
            os._exit(137)
        time.sleep(0.3)
        return super().ocr(image, options)


def test_a_worker_that_dies_on_a_page_fails_that_file_alone(tmp_path: Path) -> None:
    """Workers that did start and then died are a page's fault: retried once, then
    that file fails and the rest are indexed, also the pages read beside it when it
    died (a broken pool fails every page on it alike: those go again one at a time)."""
    scans = tmp_path / "scans"
    scans.mkdir()
    for i in range(5):
        write_fake_scan(scans / f"page{i}.png", f"page number {i}")
    write_fake_scan(scans / "page2-poison.png", "!die")  # read while others are
    with Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=CrashingOcr(),
                      executor=LocalPoolExecutor(2)) as library:
        report = library.add([scans])
    assert report.indexed == 5, report.failed
    assert [Path(f.path).name for f in report.failed] == ["page2-poison.png"]
    assert "crashed twice" in report.failed[0].error
