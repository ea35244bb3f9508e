# Parley: the two commands are `make run` and `make test`. Everything else is what they need.
SHELL := /bin/bash
ROOT := $(abspath .)
SERVICES_PY := $(ROOT)/.envs/services/bin/python
BOT_PY := $(ROOT)/.envs/bot/bin/python
export PARLEY_SERVICES_PYTHON := $(SERVICES_PY)
export PARLEY_BOT_PYTHON := $(BOT_PY)
export PYTHONPATH := $(ROOT)
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
PYTEST_ARGS ?=
SERVICES_TESTS ?= tests
BOT_TESTS ?= tests/connectors tests/security tests/bot tests/observability

.PHONY: run test bench envs env-services env-bot tools test-services test-bot lock-services lock-bot clean

## run: build what is missing, then start Redis, MongoDB, the sandbox, the bot and every service
run: envs tools
	$(SERVICES_PY) -m devstack run

## test: build what is missing, then run the whole suite in both environments
test: envs tools
	@status=0; $(MAKE) --no-print-directory test-services || status=1; \
	  $(MAKE) --no-print-directory test-bot || status=1; exit $$status

test-services:
	$(SERVICES_PY) -m pytest $(SERVICES_TESTS) $(PYTEST_ARGS)

test-bot:
	$(BOT_PY) -m pytest $(BOT_TESTS) $(PYTEST_ARGS)

envs: env-services env-bot

env-services:
	@scripts/ensure-env.sh services >/dev/null

env-bot:
	@scripts/ensure-env.sh bot >/dev/null

## tools: Debian packages the tests use (chromium, docker-compose); never a downloaded browser
tools:
	@scripts/ensure-debian-tools.sh

## lock-*: re-resolve a lock file from its .in file (needs network to PyPI)
lock-services:
	scripts/lock.sh services

lock-bot:
	scripts/lock.sh bot

clean:
	rm -rf .envs .data bot/models

## bench: every benchmark in bench/, one after another, into bench/REPORT.md
bench: envs
	$(SERVICES_PY) bench/run_all.py
