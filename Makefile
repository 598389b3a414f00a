# camctl: `make demo` runs the controller offline, `make test` runs every test.
# Both create .venv on first use; `make test` also installs the Debian tools the tests
# drive (umockdev, ffmpeg) when run as root on a machine that lacks them.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CAMCTL := $(VENV)/bin/camctl
PYTEST_ARGS ?=

.PHONY: install demo run test lint bench orr system-deps clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.installed | system-deps
	$(PY) -m pip install -q -e '.[test]' 'PyGObject<3.51'
	touch $@

install: $(VENV)/.installed

system-deps:
	@sh .ci/system-deps

demo: $(VENV)/.installed
	$(CAMCTL) demo

# Against a real MediaMTX and real cameras (CAMCTL_MEDIAMTX_URL, CAMCTL_STATE_DIR apply).
run: $(VENV)/.installed
	$(CAMCTL) run $(or $(CONFIG),examples/gitops)

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check controller tests benchmarks tools
	$(VENV)/bin/ruff format --check controller tests benchmarks tools
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: lint
	umockdev-wrapper $(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.test-installed
	umockdev-wrapper $(PY) -m benchmarks

# The operational readiness review (docs/orr/): the whole suite once, the fault campaign,
# bandit, the SBOM, kustomize, promtool and the benchmarks, judged by docs/orr/criteria.yaml
# into build/orr/ (index.md: the GO / NO-GO table). Exit 1 on NO-GO. About 10 min on 2 CPUs.
orr: $(VENV)/.test-installed
	$(PY) -m tools.orr

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
