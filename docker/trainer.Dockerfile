# syntax=docker/dockerfile:1
# The trainer image: the whole pipeline (crawl → prepare → base → fine-tune → evaluate → export)
# with the `crawl` and `train` extras (Scrapy, TensorFlow CPU, gpt-2-simple, llama.cpp).
# It writes only into the data volume at /data; the api image serves what it exports.

# The same wheels stage as api.Dockerfile's, line for line, so the layer cache builds it once:
# it compiles llama-cpp-python (export's parity check runs the serving engine) for x86-64-v3.
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

# The crawl and train extras, installed apart and copied into the image as one layer: the wheels
# never become a layer of it. COPY --from, not a bind mount: podman 4.3 bind-mounts a cached stage's
# first layer instead of its last, and keeps a RUN's cached layer when the mounted files change.
FROM python:3.11-slim AS packages
COPY --from=wheels /wheels /wheels
WORKDIR /build
COPY pyproject.toml ./
# Packages the wheels stage compiled come from it, the rest from PyPI. --root keeps the paths pip
# installs to; compiled afterwards for those paths (pip would record the /packages ones in the
# bytecode), checked by hash since the image's files never change.
RUN python -c "import tomllib; extras = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']; print('\n'.join(extras['crawl'] + extras['train']))" > requirements.txt \
 && pip install --no-cache-dir --no-compile --no-warn-script-location --root /packages \
      --find-links /wheels -r requirements.txt \
 && python -m compileall -q -s /packages -p / --invalidation-mode unchecked-hash /packages

FROM python:3.11-slim
# HOME in /tmp: TensorFlow, Keras and Matplotlib keep caches there, and /app is not writable.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    HOME=/tmp \
    TF_CPP_MIN_LOG_LEVEL=2 \
    GHOST_DATA_DIR=/data
# libgomp: llama.cpp's CPU backend runs its threads with OpenMP.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ghost \
 && useradd --system --uid 10001 --gid ghost --home-dir /app --shell /usr/sbin/nologin ghost \
 && mkdir /data && chown ghost:ghost /data
# Dependencies before code: this (large) layer changes only with the packages stage.
COPY --from=packages /packages /
WORKDIR /app
COPY contracts.py cli.py ./
COPY crawler/ crawler/
COPY corpus/ corpus/
COPY model/ model/
# The model stage encodes with the serving core's tokenizer, export's parity check runs its engines
# and `python -m model sample` its generation path; the core needs no Flask, which this image lacks.
COPY serving/ serving/
COPY deploy/pipeline.sh deploy/pipeline.sh
USER 10001:10001
# A named volume created from this path inherits its ownership, so the non-root user can write.
VOLUME ["/data"]
ENTRYPOINT ["bash", "deploy/pipeline.sh"]
