# Ghostwriter: one command per job. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR ?= data
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

# Debian packages the tests drive for real: nginx in front of uWSGI, Chromium for the page;
# g++ because pip builds llama-cpp-python from source (see pyproject's `serve` extra); PCRE2's
# headers so that pip builds uWSGI with PCRE (without it uWSGI prints "!!! no internal routing
# support, rebuild with pcre support !!!" at every start). bible-kjv and fortunes: the quality
# benchmark's two corpora (King James Bible text and the `bible` program that prints it; the
# fortune cookie files, which have no command: DEB_FILES checks them).
DEB_PACKAGES := nginx-light chromium chromium-driver gettext-base g++ libpcre2-dev bible-kjv fortunes
DEB_COMMANDS := nginx chromium chromedriver envsubst g++ pcre2-config bible
DEB_FILES := /usr/share/games/fortunes/computers

.PHONY: install deb-packages test compose-test lint format serve demo bench clean

install: deb-packages $(VENV)/.installed

# Before the venv: its pip step compiles llama-cpp-python with g++.
deb-packages:
	@missing=""; for c in $(DEB_COMMANDS); do command -v $$c >/dev/null || [ -x /usr/sbin/$$c ] || missing=1; done; \
	for f in $(DEB_FILES); do [ -f $$f ] || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES) >/dev/null; \
	  else echo "install needs root for Debian packages ($(DEB_PACKAGES)); run: sudo make install" >&2; exit 2; fi; \
	fi

# Re-installs only when the dependency list changes.
$(VENV)/.installed: pyproject.toml | deb-packages
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# compat mode: a .pth adds the repo root, so packages added later import without a reinstall.
	$(PY) -m pip install -q -e ".[crawl,train,serve,dev]" --config-settings editable_mode=compat
	# A uWSGI wheel that pip cached before PCRE2's headers were here lacks routing: rebuild it.
	ldd $(VENV)/bin/uwsgi | grep -q libpcre2 || \
	  $(PY) -m pip install -q --no-cache-dir --force-reinstall --no-deps "uwsgi>=2.0.26,<2.1"
	touch $@

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: install lint
	$(VENV)/bin/pytest

# docker-compose.yml for real, without Docker: podman (runc, netavark networks, aardvark-dns names)
# serves the Docker API to the Compose CLI; deploy/podman/bases.sh stands in python:3.11-slim and
# nginx:1.28 from Debian packages (built once, rebuilt when their recipe changes). Needs root.
COMPOSE_DEB_PACKAGES := podman runc netavark aardvark-dns iptables debootstrap
COMPOSE_DEB_COMMANDS := podman runc debootstrap iptables
compose-test: install
	@missing=""; for c in $(COMPOSE_DEB_COMMANDS); do command -v $$c >/dev/null || [ -x /usr/sbin/$$c ] || missing=1; done; \
	[ -x /usr/lib/podman/netavark ] && [ -x /usr/lib/podman/aardvark-dns ] || missing=1; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(COMPOSE_DEB_PACKAGES) >/dev/null; \
	  else echo "compose-test needs root for podman; run: sudo make compose-test" >&2; exit 2; fi; \
	fi
	CONTAINERS_CONF=$(CURDIR)/deploy/podman/containers.conf bash deploy/podman/bases.sh
	$(VENV)/bin/pytest tests/compose -m compose -p no:cacheprovider

# nginx on :5000 in front of uWSGI, in the foreground with the project's own config files;
# Ctrl-C stops both. `make serve MODEL=data/serving/NAME [PORT=5000]`.
PORT ?= 5000
serve: install
	@test -n "$(MODEL)" || { echo "error: name the model: make serve MODEL=$(DATA_DIR)/serving/NAME" >&2; exit 2; }
	$(PY) -m stack --model $(MODEL) --port $(PORT)

# The whole product on this machine, offline: serve the crawler's bundled sample site on
# 127.0.0.1 and crawl it, prepare, make a from-scratch base, fine-tune for MINUTES, evaluate,
# export, then serve page + API on :PORT. With internet: SOURCE=bulbapedia, or SOURCE=genius
# ARTIST="Name" (GENIUS_ACCESS_TOKEN in the environment), and BASE=124M for real GPT-2.
SOURCE ?= sample
BASE ?= init
MINUTES ?= 4
NAME ?= $(SOURCE)
demo: install
	SOURCE=$(SOURCE) ARTIST="$(ARTIST)" LIMIT=$(LIMIT) BASE=$(BASE) MINUTES=$(MINUTES) NAME=$(NAME) \
	  GHOST_DATA_DIR=$(DATA_DIR) PYTHON=$(PY) bash deploy/pipeline.sh
	$(PY) -m stack --model $(DATA_DIR)/serving/$(NAME) --port $(PORT)

# Speed and memory of every stage on this machine (GPT-2-124M shape, ~10 minutes): writes
# bench/results/<timestamp>.json and prints the table. `make test` runs a smoke version.
bench: install
	GHOST_DATA_DIR=$(DATA_DIR) $(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
