# syntax=docker/dockerfile:1
# The trainer image: the whole pipeline (crawl → prepare → base → fine-tune → evaluate → export)
# with the `crawl` and `train` extras (Scrapy, TensorFlow CPU, gpt-2-simple, CTranslate2).
# It writes only into the data volume at /data; the api image serves what it exports.
FROM python:3.11-slim
# HOME in /tmp: TensorFlow, Keras and Matplotlib keep caches there, and /app is not writable.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    HOME=/tmp \
    TF_CPP_MIN_LOG_LEVEL=2 \
    GHOST_DATA_DIR=/data
RUN groupadd --system --gid 10001 ghost \
 && useradd --system --uid 10001 --gid ghost --home-dir /app --shell /usr/sbin/nologin ghost \
 && mkdir /data && chown ghost:ghost /data
WORKDIR /app
COPY pyproject.toml ./
# Dependencies before code: this (large) layer is rebuilt only when pyproject.toml changes.
RUN python -c "import tomllib; extras = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']; print('\n'.join(extras['crawl'] + extras['train']))" > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
COPY crawler/ crawler/
COPY corpus/ corpus/
COPY model/ model/
COPY deploy/pipeline.sh deploy/pipeline.sh
USER 10001:10001
# A named volume created from this path inherits its ownership, so the non-root user can write.
VOLUME ["/data"]
ENTRYPOINT ["bash", "deploy/pipeline.sh"]
