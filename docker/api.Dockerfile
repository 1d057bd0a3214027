# syntax=docker/dockerfile:1
# The api image: Flask under uWSGI with the `serve` extra only (llama.cpp, tokenizers): no
# TensorFlow. Layers go from least to most often changed: OS packages, Python deps, then code.

# The wheels stage is the same, line for line, in trainer.Dockerfile: the layer cache builds it
# once for both images (llama.cpp's compile takes minutes).
FROM python:3.11-slim AS wheels
# uWSGI and llama-cpp-python ship as source on PyPI: compile them here so the runtime image
# carries no compiler. Build tools are taken at the base image's Debian release; pinning exact
# versions would break the build whenever Debian publishes a security update.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ libc6-dev libpcre2-dev \
 && rm -rf /var/lib/apt/lists/*
# llama.cpp compiles for the building CPU by default; an image runs on other hosts, so it targets
# x86-64-v3 (AVX2, FMA, F16C: Intel since 2013, AMD since 2015) instead. Serving reads text only:
# no multimodal library (LLAVA_BUILD).
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF"
# The version pyproject.toml pins (a test keeps them equal). Compiled before pyproject.toml is
# copied, so that the other edits to it do not recompile llama.cpp (tens of minutes on 2 cores).
ARG LLAMA_CPP_PYTHON=0.3.36
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels "llama-cpp-python==${LLAMA_CPP_PYTHON}"
WORKDIR /build
COPY pyproject.toml ./
# The dependency list comes from pyproject's `serve` extra, so this layer is rebuilt only when
# pyproject.toml changes, not on every code edit.
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['serve']; print('\n'.join(deps))" > requirements.txt \
 && pip wheel --no-cache-dir --find-links /wheels --wheel-dir /wheels -r requirements.txt

# The serve extra, installed apart and copied into the image as one layer: the wheels never become a
# layer of it. COPY --from, not a bind mount: podman 4.3 bind-mounts a cached stage's first layer
# instead of its last, and keeps a RUN's cached layer when the mounted files change.
FROM python:3.11-slim AS packages
COPY --from=wheels /wheels /wheels
# --root keeps the paths pip installs to; compiled afterwards for those paths (pip would record the
# /packages ones in the bytecode), checked by hash since the image's files never change.
RUN pip install --no-cache-dir --no-index --no-compile --no-warn-script-location --root /packages \
      /wheels/*.whl \
 && python -m compileall -q -s /packages -p / --invalidation-mode unchecked-hash /packages

FROM python:3.11-slim
# uWSGI listens on every interface of the container, so that nginx reaches it over the compose
# network (natively, api/uwsgi.ini keeps it on 127.0.0.1).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    GHOST_DATA_DIR=/data \
    GHOST_MODELS_DIR=/data/serving \
    GHOST_UWSGI_SOCKET=:3031
# libgomp: llama.cpp's CPU backend runs its threads with OpenMP. /data belongs to the same user
# in both images: whichever container first mounts the named volume initialises it from its
# image, and the trainer must be able to write there.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ghost \
 && useradd --system --uid 10001 --gid ghost --home-dir /app --shell /usr/sbin/nologin ghost \
 && mkdir /data && chown ghost:ghost /data
COPY --from=packages /packages /
WORKDIR /app
COPY contracts.py ./
COPY serving/ serving/
COPY api/ api/
COPY docker/uwsgi_probe.py /usr/local/bin/uwsgi_probe.py
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 3031
CMD ["uwsgi", "--ini", "api/uwsgi.ini"]
