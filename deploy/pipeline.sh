#!/usr/bin/env bash
# The whole pipeline, one stage after another: crawl → prepare → base → fine-tune → evaluate → export.
# Used by `make demo` (offline, on the bundled sample site) and by the Docker `trainer` service.
# Every setting comes from the environment, with defaults that work offline on a laptop:
#   SOURCE   sample (bundled site, offline) | bulbapedia | genius          default: sample
#   ARTIST   Genius artist name(s), comma-separated (SOURCE=genius)
#   LIMIT    most documents to crawl (empty: the crawler's default)
#   BASE     init (a from-scratch base trained here, offline) | 124M | 355M   default: init
#   MINUTES  fine-tuning time budget in minutes                            default: 4
#   NAME     name of the corpus, run and exported model                   default: $SOURCE
#   GHOST_DATA_DIR  where the artifacts go                                 default: ./data
set -euo pipefail

SOURCE=${SOURCE:-sample}
BASE=${BASE:-init}
MINUTES=${MINUTES:-4}
NAME=${NAME:-$SOURCE}
DATA=${GHOST_DATA_DIR:-data}
PY=${PYTHON:-python}
export GHOST_DATA_DIR=$DATA TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2} PYTHONUNBUFFERED=1

step() { printf '\n== %s\n' "$*"; }

corpus=$DATA/corpus/$NAME
prepared=$DATA/prepared/$NAME
limit_args=()
[ -n "${LIMIT:-}" ] && limit_args=(--limit "$LIMIT")

case $SOURCE in
  sample)
    step "crawl: the bundled sample site, served on 127.0.0.1"
    url_file=$(mktemp)
    $PY -m crawler.sample_site >"$url_file" &
    site_pid=$!
    trap 'kill $site_pid 2>/dev/null || true; rm -f "$url_file"' EXIT
    # The site prints its URL once it listens.
    for _ in $(seq 100); do grep -q '^http' "$url_file" && break; sleep 0.1; done
    site=$(grep -m1 '^http' "$url_file") || { echo "error: the sample site did not start" >&2; exit 1; }
    # The sample site has episodes of the first two series only (crawler/sample_site).
    $PY -m crawler bulbapedia --site-root "$site/" --series EP,AG --delay 0 --out "$corpus" \
      "${limit_args[@]}"
    kill $site_pid 2>/dev/null || true
    profile=episodes ;;
  bulbapedia)
    step "crawl: Bulbapedia episode summaries"
    $PY -m crawler bulbapedia --out "$corpus" "${limit_args[@]}"
    profile=episodes ;;
  genius)
    step "crawl: Genius lyrics"
    [ -n "${ARTIST:-}" ] || { echo "error: SOURCE=genius needs ARTIST=\"Name\"" >&2; exit 2; }
    artist_args=()
    IFS=, read -ra artists <<<"$ARTIST"
    for a in "${artists[@]}"; do artist_args+=(--artist "$a"); done
    $PY -m crawler genius "${artist_args[@]}" --out "$corpus" "${limit_args[@]}"
    profile=lyrics ;;
  *) echo "error: SOURCE must be sample, bulbapedia or genius (got '$SOURCE')" >&2; exit 2 ;;
esac

step "prepare: clean and split"
$PY -m corpus prepare "$corpus" "$prepared" --profile $profile

case $BASE in
  init)
    step "base: a model from scratch (offline), sized for the corpus and $MINUTES minutes"
    base=$NAME-base
    # No dimension flags: init's sizing rule (model/sizing.py) picks layers, width, vocabulary.
    [ -f "$DATA/models/$base/hparams.json" ] ||
      $PY -m model init "$base" --corpus "$prepared/train.txt" --minutes "$MINUTES" ;;
  *)
    step "base: download GPT-2 $BASE"
    base=$BASE
    $PY -m model download "$BASE" ;;
esac

step "fine-tune for at most $MINUTES minutes (best checkpoint by validation loss kept)"
$PY -m model finetune --base "$base" --dataset "$prepared/train.txt" --val "$prepared/val.txt" \
  --run "$NAME" --minutes "$MINUTES"

step "evaluate against the base"
$PY -m model evaluate --run "$NAME" --data "$prepared"

step "export for serving: the best checkpoint"
$PY -m model export --run "$NAME" --out "$DATA/serving/$NAME"
