# Set-up-and-run targets. Each creates .venv from the pinned lock file when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := envs/requirements-cpu.lock

.PHONY: demo test test-slow lint bench-env clean-venv system-deps

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

# The data chain on the bundled synthetic sample clips, then the environment started from them.
demo: $(VENV)/.installed system-deps
	$(BIN)/skeleton-steering sample-kit --out results/sample_kit
	$(BIN)/skeleton-steering extract --kit-root results/sample_kit --out results/expert_dataset
	$(BIN)/skeleton-steering retarget --manifest results/expert_dataset/manifest.json \
		--out results/kit_expert_traj.npz
	$(BIN)/skeleton-steering cache --trajectory results/kit_expert_traj.npz --out results/cache
	$(BIN)/skeleton-steering demo --cache results/cache --out results/demo

test: $(VENV)/.installed system-deps
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest

test-slow: $(VENV)/.installed system-deps
	$(BIN)/python -m pytest -m slow

bench-env: $(VENV)/.installed
	$(BIN)/skeleton-steering bench env --batch 64 256 --steps 50

clean-venv:
	rm -rf $(VENV)
