# eksops.windows: `make demo` runs the demo against the built-in lab; `make test` runs every gate.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
# Python 3.12 gets current ansible-core (2.21); 3.11 caps at ansible-core 2.19.
# The first that really runs wins (a pyenv shim for a version not selected fails to run).
PYTHON ?= $(shell for p in python3.12 $(HOME)/.pyenv/versions/3.12*/bin/python3.12 python3.11 python3; do \
  if $$p -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1; then echo $$p; break; fi; done)
BIN := $(VENV)/bin
# The collection must sit under ansible_collections/<namespace>/<name>: a link does it for
# ansible and pytest; ansible-test gets a copy (it resolves links to the real path).
COLLECTIONS := $(ROOT)/.build/collections
LINK := $(COLLECTIONS)/ansible_collections/eksops/windows
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_NOCOLOR := $(if $(CI),1,)
export PATH := $(BIN):$(PATH)

.PHONY: help venv lab-build demo test unit floor docs docs-check lab-test integration integration-1 integration-2 sanity lint readme-check molecule perf mutation clean lab-stop

# `make help` prints every target that has a `## ` comment on its line, in file order.
help: ## this list
	@echo "eksops.windows: a newcomer needs two commands, 'make demo' and 'make test'."
	@awk -F':.*## ' '/^[a-z][a-z0-9-]*:.*## / {printf "  make %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# uv (from PyPI, into the venv by its pip) installs the requirements: the same versions as pip
# resolves, downloaded in parallel. --compile-bytecode writes the .pyc files at install, as pip
# does: with PYTHONDONTWRITEBYTECODE set (as on the machine this was measured on) nothing else would, and every
# ansible-playbook and module process would compile boto3, botocore and kubernetes again
# (integration-2 went from about 600 to 883 s in a run without it).
PIP_UV = $(BIN)/python -m pip install -q --disable-pip-version-check 'uv>=0.5' 2>&1 | { grep -v "^WARNING: Location" || true; }
UV = $(BIN)/python -m uv pip install -q --compile-bytecode

venv: $(VENV)/.stamp $(LINK) ## the virtual environment (Python 3.12, or 3.11) and the collection link

$(VENV)/.stamp: requirements/dev.txt
	@echo "== virtual environment ($(PYTHON))"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_UV)
	$(UV) --python $(BIN)/python -r requirements/dev.txt
	$(BIN)/python -c "import ansible, boto3, kubernetes, moto, cryptography" 
	touch $@

$(LINK):
	mkdir -p $(dir $(LINK))
	ln -sfn $(ROOT) $(LINK)

lab-build: ## the lab's binaries: etcd from Debian, kube-apiserver/controller-manager built once (~3 min cold)
	@echo "== lab binaries (etcd from Debian; kube-apiserver/kube-controller-manager built once, cached)"
	bash tests/lab/install-system-deps.sh
	bash tests/lab/build-kubernetes.sh

demo: venv lab-build ## set up everything, start a lab of EKS clusters, run the demo playbooks, stop
	bash tests/lab/demo.sh

unit: venv ## unit tests (pytest, fakes and Stubber; under a minute)
	@echo "== unit tests"
	$(BIN)/python -m pytest -q tests/unit

# The ansible-core floor (requirements/floor.txt): a second environment with the oldest
# ansible-core the metadata claims, every other package read from the main one (a .pth file
# placed after its own site-packages), runs the unit suite and one integration playbook.
FLOOR := $(ROOT)/.build/floor
FLOOR_SITE = $(shell $(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

$(FLOOR)/.stamp: requirements/floor.txt $(VENV)/.stamp
	@echo "== the ansible-core floor environment ($(FLOOR))"
	rm -rf $(FLOOR)
	$(BIN)/python -m venv $(FLOOR)
	$(UV) --python $(FLOOR)/bin/python -r requirements/floor.txt
	echo "$(FLOOR_SITE)" > $$($(FLOOR)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/eksops-main-venv.pth
	touch $@

floor: venv lab-build $(FLOOR)/.stamp ## the unit suite and two playbooks on the oldest ansible-core claimed (2.19)
	@echo "== ansible-core floor: $$($(FLOOR)/bin/ansible --version | head -1)"
	$(FLOOR)/bin/python -c 'import ansible.release as r, sys; v = tuple(int(x) for x in r.__version__.split(".")[:2]); sys.exit(0 if v == (2, 19) else "the floor environment runs ansible-core %s, not 2.19" % r.__version__)'
	@# test_execution_environment drives ansible-builder, a tool of the main environment only
	PATH=$(FLOOR)/bin:$$PATH $(FLOOR)/bin/python -m pytest -q -p no:cacheprovider tests/unit \
	  --ignore=tests/unit/test_execution_environment.py
	PATH=$(FLOOR)/bin:$$PATH $(FLOOR)/bin/python -m pytest -q -p no:cacheprovider tests/integration/test_foundation.py \
	  -k "cluster_info_playbook_reads_every_cluster or lookup_kubeconfig_drives_kubernetes_core"

# The plugin and role reference (docs/reference/) is generated from DOCUMENTATION, EXAMPLES,
# RETURN and meta/argument_specs.yml by antsibull-docs (pinned in requirements/dev.txt: its
# version is in every page); docs-check regenerates it aside and fails on any difference.
ANTSIBULL_DOCS = $(BIN)/antsibull-docs collection --use-current --output-format simplified-rst \
  --squash-hierarchy --fail-on-error

docs: venv ## regenerate docs/reference/ from the plugins' and roles' own documentation
	rm -rf docs/reference
	mkdir -p docs/reference
	$(ANTSIBULL_DOCS) --dest-dir docs/reference eksops.windows

docs-check: venv ## docs/reference/ is what the plugins and roles document (else: make docs)
	@echo "== the generated reference (docs/reference/)"
	rm -rf $(ROOT)/.build/docs-check
	mkdir -p $(ROOT)/.build/docs-check
	$(ANTSIBULL_DOCS) --dest-dir $(ROOT)/.build/docs-check eksops.windows
	@diff -r docs/reference $(ROOT)/.build/docs-check || { echo "docs/reference/ is not what the plugins' and roles' documentation says: run 'make docs' and commit the result"; exit 1; }

lab-test: venv lab-build ## tests of the lab itself
	@echo "== tests of the lab itself"
	$(BIN)/python -m pytest -q tests/lab/tests

integration: venv lab-build ## real ansible-playbook runs against the lab (the longest gate)
	@echo "== integration tests (ansible-playbook against the lab)"
	$(BIN)/python -m pytest -q --durations=15 tests/integration

# make test runs the integration tests in two parts, side by side: these files, and all the others
# (so a new test file lands in the first part). Together they are exactly `make integration`.
INTEGRATION_2 := $(addprefix tests/integration/,test_inventory.py test_workloads.py \
  test_concurrency.py test_legacy_remove.py)

integration-1: venv lab-build ## the integration tests but those of integration-2
	@echo "== integration tests, part 1 (all files but $(notdir $(INTEGRATION_2)))"
	$(BIN)/python -m pytest -q --durations=15 tests/integration $(addprefix --ignore=,$(INTEGRATION_2))

integration-2: venv lab-build ## the integration tests of four files (inventory, workloads, concurrency, legacy_remove)
	@echo "== integration tests, part 2 ($(notdir $(INTEGRATION_2)))"
	$(BIN)/python -m pytest -q --durations=15 $(INTEGRATION_2)

sanity: venv ## ansible-test sanity, offline, no Docker
	@echo "== ansible-test sanity"
	bash tests/sanity/run.sh

# ansible-lint gets an ANSIBLE_HOME of its own: it puts $ANSIBLE_HOME/collections (default
# ~/.ansible) first, where a molecule prerun (off in our scenarios) or an `ansible-galaxy
# collection install` leaves a copy of this collection; lint must resolve the working tree's.
lint: venv ## ruff (ruff.toml), then ansible-lint (production profile, offline; its yaml rule is yamllint)
	@echo "== ruff (ruff.toml: pycodestyle, pyflakes, import order)"
	$(BIN)/ruff check .
	@echo "== ansible-lint (production profile, offline)"
	ANSIBLE_HOME=$(ROOT)/.build/lint-home $(BIN)/ansible-lint --offline --profile production

molecule: venv lab-build ## the molecule scenarios of six roles (default driver, against the lab)
	@echo "== molecule scenarios of the roles (default driver; each starts and stops a lab)"
	set -e; for scenario in $$(cd extensions/molecule && dirname */molecule.yml); do \
	  NO_COLOR=1 $(BIN)/molecule test -s $$scenario 2>&1 | tail -n 3; \
	  test $${PIPESTATUS[0]} -eq 0; done

readme-check: venv lab-build ## the README's commands, run as a newcomer would
	@echo "== the README's commands"
	$(BIN)/python -m pytest -q tests/readme

# The test gates, in the order they start, each on the first free slot whose setup is done: the
# two parts of the integration tests (the longest) first, then the fast lab-free gates (their
# failures show early; on a fresh machine they run during the lab's build), then the others,
# longest first.
GATES := integration-1 integration-2 unit lint docs-check molecule sanity lab-test floor readme-check
JOBS ?= 2

# The setup (venv, lab-build: minutes on a fresh machine, a second when warm) and the gates on
# $(JOBS) parallel slots (tests/gates.py): a gate starts once the setup targets among its own
# prerequisites above have passed (unit, lint, docs-check and sanity need only the venv, so they
# run while the lab is built). Each gate's output is printed whole when it ends, a failed gate
# ends the run; the time of every gate, the run's wall time and the machine's CPU time are
# printed at the end. JOBS=1 runs them one after the other.
test: ## the setup and the gates on two parallel slots (integration in two parts), timed (what CI runs)
	@$(PYTHON) tests/gates.py --setup "venv lab-build" --jobs $(JOBS) --gates "$(GATES)"

perf: venv lab-build ## benchmarks against the CLI steps and a hand-rolled playbook (figures only)
	@echo "== benchmarks (figures only)"
	$(BIN)/python tests/perf/bench_foundation.py
	$(BIN)/python tests/perf/bench_assessment.py
	$(BIN)/python tests/perf/bench_requests.py
	bash tests/perf/install-bench-tools.sh
	$(BIN)/python tests/perf/bench_enable.py

# Each check-mode guard of plugins/ removed in turn: the unit suite must fail every time.
mutation: venv ## remove each check-mode guard in turn: the unit suite must fail every time
	@echo "== check-mode guards against the unit suite"
	$(BIN)/python tests/mutation/check_mode_guards.py

lab-stop: ## stop a lab started by labctl or make demo
	tests/lab/labctl stop

clean: ## stop the lab, remove .build, .lab and test outputs
	-tests/lab/labctl stop
	rm -rf .build .lab tests/output
