# Set-up-and-run targets. Each creates .venv from the pinned lock file when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := envs/requirements-cpu.lock

.PHONY: demo shipped test test-slow lint bench-env clean-venv system-deps

$(VENV)/.installed: $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# Videos are rendered offscreen with EGL or OSMesa; without a GPU driver that is Mesa's software
# renderer. The script installs the missing Debian packages when run as root, else says what to
# install; it is quick when nothing is missing and never stops the targets that need it.
system-deps:
	@sh scripts/install_system_deps.sh || echo "(continuing: all but video rendering works)"

# The whole workflow (data chain, training, eval, videos, report; Snakefile) on the default
# config: the bundled synthetic sample, two seeds, a budget for a 2-core CPU, and the walker
# that ships in policies/ evaluated and rendered beside them (results/shipped/). The venv's
# bin goes first on PATH, so every rule finds `skeleton-steering`.
demo: $(VENV)/.installed system-deps
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores 2

# The trained policy that ships with the project (policies/README.md: how it was made, its
# numbers), evaluated on the scripted steering schedule and on random commands drawn as in
# training (both on the held-out evaluation seed), and rendered with its GIF preview: the
# workflow's reference rules, alone.
shipped: $(VENV)/.installed system-deps
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores 2 results/shipped/eval.json \
		results/shipped/eval_random.json results/shipped/walker.mp4 results/shipped/walker.gif

test: $(VENV)/.installed system-deps
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest

test-slow: $(VENV)/.installed system-deps
	$(BIN)/python -m pytest -m "slow and not cluster"

bench-env: $(VENV)/.installed
	$(BIN)/skeleton-steering bench env --batch 64 256 --steps 50

clean-venv:
	rm -rf $(VENV)

# A single-node SLURM cluster on this machine (needs root; installs Debian's slurm-wlm,
# slurmdbd, munge and mariadb-server when missing) and the slow tests that submit to it.
# The tests start the cluster and stop it afterwards; cluster-up/-down keep one running by hand.
.PHONY: cluster-test cluster-up cluster-down
cluster-test: $(VENV)/.installed system-deps
	$(BIN)/python -m pytest -m cluster tests/cluster

cluster-up:
	@tests/cluster/start_slurm.sh

cluster-down:
	@tests/cluster/stop_slurm.sh
