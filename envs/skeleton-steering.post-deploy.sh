#!/usr/bin/env bash
# Snakemake runs this once inside the freshly created conda environment, from the directory
# snakemake was started in (the repository root): install the project itself, without
# touching the pinned dependencies the environment file already installed.
set -euo pipefail
if [ ! -f pyproject.toml ] || ! grep -q '^name = "skeleton-steering"' pyproject.toml; then
    echo "post-deploy: run snakemake from the SkeletonSteering repository root" >&2
    exit 1
fi
python -m pip install --no-deps -e .
