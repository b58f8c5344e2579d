"""The sample data chain run once through `skeleton-steering`, for tests that need its files."""

from __future__ import annotations

from pathlib import Path

from skeleton_steering.cli import main


def run_data_chain(root: Path, *sample_flags: str) -> Path:
    """sample-kit -> kit/, extract -> ds/, retarget -> traj.npz, cache -> cache/ under `root`."""
    assert main(["sample-kit", "--out", str(root / "kit"), *sample_flags]) == 0
    assert main(["extract", "--kit-root", str(root / "kit"), "--out", str(root / "ds")]) == 0
    assert main(["retarget", "--manifest", str(root / "ds" / "manifest.json"),
                 "--out", str(root / "traj.npz")]) == 0
    assert main(["cache", "--trajectory", str(root / "traj.npz"),
                 "--out", str(root / "cache")]) == 0
    return root
