"""The policy shipped in `policies/`: it loads alone, fits in git, matches this skeleton and
today's training defaults, and `policies/walker.json` records where it came from."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax.numpy as jp
import mujoco
import numpy as np
import pytest

from skeleton_steering.env import commands
from skeleton_steering.learn import policy_export, train_config
from skeleton_steering.skeleton import model
from skeleton_steering.skeleton.features import body_state_features

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "policies" / "walker.msgpack"
RECORD = ROOT / "policies" / "walker.json"
# Sections that decide what the policy is; run length, eval cadence and the seed may differ.
TRAINED_SECTIONS = ("env", "network", "ppo", "amp", "normalizer")


@pytest.fixture(scope="module")
def export() -> policy_export.PolicyExport:
    return policy_export.load(SHIPPED)


def _record() -> dict:
    return json.loads(RECORD.read_text(encoding="utf-8"))


def test_shipped_policy_fits_in_git_and_loads_alone(export):
    assert SHIPPED.stat().st_size < 2_000_000
    assert export.path == SHIPPED
    assert export.reference_qpos.shape[1] == model.load_mj_model().nq
    assert len(export.reference_qpos) >= 100


def test_record_matches_the_export(export):
    record = _record()
    assert record["env_steps"] == export.meta["env_steps"]
    assert record["seed"] == export.config.seed
    assert record["command"] == export.meta["provenance"]["command"]
    assert record["commit"] == export.meta["provenance"]["commit"]
    # The numbers the README quotes come from the documented eval command's summary.
    metrics = record["eval"]["metrics"]
    for key in ("falls_per_minute", "success_rate", "upright_share", "heading_error_deg"):
        assert key in metrics


def test_shipped_policy_was_trained_with_todays_defaults(export):
    """Changing a training default without retraining the shipped policy fails here."""
    defaults = train_config.load(ROOT / "config" / "amp_ppo.yaml", [])
    for section in TRAINED_SECTIONS:
        assert dataclasses.asdict(getattr(export.config, section)) == dataclasses.asdict(
            getattr(defaults, section)
        ), f"policies/walker.msgpack was trained with other '{section}' settings than today's"


def test_shipped_policy_acts_on_this_skeletons_observations(export):
    """Observations of its own start frames, built without the environment, give finite
    actions in range: the file fits this model's joint order and feature layout."""
    mj_model = model.load_mj_model()
    data = mujoco.MjData(mj_model)
    key_sites = model.build_index(mj_model).key_sites
    obs = []
    for qpos, qvel in zip(export.reference_qpos[::50], export.reference_qvel[::50], strict=True):
        data.qpos[:] = qpos
        mujoco.mj_kinematics(mj_model, data)
        features = body_state_features(jp.asarray(qpos), jp.asarray(qvel),
                                       jp.asarray(data.site_xpos[key_sites]))
        heading = jp.zeros(())  # command straight ahead of the pelvis at 1.2 m/s
        obs.append(jp.concatenate([features, commands.command_obs(heading, 1.2, heading)]))
    policy = policy_export.policy_of(export)
    actions = np.asarray(policy.act(jp.stack(obs)))
    assert actions.shape == (len(obs), mj_model.nu)
    assert np.isfinite(actions).all()
    # A trained mean stays mostly inside the clipped range [-1, 1].
    assert np.mean(np.abs(actions) <= 1.0) > 0.9
