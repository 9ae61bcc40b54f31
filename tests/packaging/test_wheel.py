"""The wheel is the product: built with `pip wheel .`, installed away from the source tree,
it holds and imports every engine module and answers every subcommand."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SUBCOMMANDS = ("index", "search", "status", "show", "remove", "sync", "serve", "worker")


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel installed (without dependencies) into a fresh folder."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(work / "dist"), str(ROOT)],
                   check=True, timeout=600)
    wheels = list((work / "dist").glob("scandex-*.whl"))
    assert len(wheels) == 1, wheels
    target = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--target", str(target), str(wheels[0])], check=True, timeout=600)
    return target


def _python(site: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH puts the wheel's copy ahead of the editable install of the checkout.
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_wheel_holds_every_engine_module(installed_wheel: Path) -> None:
    source = {p.relative_to(ROOT).as_posix() for p in (ROOT / "engine").rglob("*.py")}
    installed = {p.relative_to(installed_wheel).as_posix()
                 for p in (installed_wheel / "engine").rglob("*.py")}
    assert source - installed == set()
    assert (installed_wheel / "engine" / "py.typed").is_file()
    assert any((installed_wheel / "resources" / "samples").iterdir())
    # the word list that mends OCR-broken words (engine.ingest.mending) ships as data
    assert (installed_wheel / "resources" / "words-en.txt").stat().st_size > 100_000


def test_wheel_imports_every_module_outside_the_source_tree(installed_wheel: Path,
                                                            tmp_path: Path) -> None:
    code = (
        "import importlib, pkgutil, engine, desktop\n"
        f"assert engine.__file__.startswith({str(installed_wheel)!r}), engine.__file__\n"
        "names = [m.name for m in pkgutil.walk_packages(engine.__path__, 'engine.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print('imported', len(names))\n"
    )
    result = _python(installed_wheel, code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) >= 40


def test_wheel_answers_every_subcommand(installed_wheel: Path, tmp_path: Path) -> None:
    for command in SUBCOMMANDS:
        code = ("import sys\nfrom engine.cli.main import main\n"
                f"sys.exit(main([{command!r}, '--help']))")
        result = _python(installed_wheel, code, tmp_path)
        assert result.returncode == 0, (command, result.stderr)
        assert "usage:" in result.stdout, command
    # sync itself runs, from the wheel, as far as needing a bucket (the old wheel had no
    # engine.sync at all and ended in ImportError here).
    code = ("import sys\nfrom engine.cli.main import main\n"
            f"sys.exit(main(['--library', {str(tmp_path / 'lib')!r}, 'sync', 'status']))")
    result = _python(installed_wheel, code, tmp_path)
    assert "ImportError" not in result.stderr and "Traceback" not in result.stderr
    assert result.returncode == 4 and "no bucket configured" in result.stderr, result.stderr
