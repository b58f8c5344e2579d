"""`bench learn` and `bench physics`: what their arguments mean and how rows are summarized."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from skeleton_steering.bench import learn_bench, physics_bench
from skeleton_steering.config import ConfigError


def test_variant_spec_splits_file_and_overrides_keeping_lists_whole():
    v = learn_bench.parse_variant("pd=config/amp_ppo.yaml,env.control.mode=pd,"
                                  "network.policy_hidden=[128,64]")
    assert v.name == "pd" and v.config_path == "config/amp_ppo.yaml"
    assert v.overrides == ("env.control.mode=pd", "network.policy_hidden=[128,64]")
    assert learn_bench.parse_variant("torque=") == learn_bench.Variant("torque", None, ())
    with pytest.raises(learn_bench.VariantError, match="NAME="):
        learn_bench.parse_variant("no-equals-sign")
    with pytest.raises(learn_bench.VariantError, match="more than one config file"):
        learn_bench.parse_variant("x=a.yaml,b.yaml")


def test_variant_config_errors_name_the_variant():
    v = learn_bench.parse_variant("bad=env.control.mode=position")
    with pytest.raises(ConfigError, match=r"--variant bad: .*control.mode"):
        learn_bench.run_config(v, 0, 10)
    cfg = learn_bench.run_config(learn_bench.parse_variant("pd=env.control.mode=pd"), 3, 10)
    assert (cfg.seed, cfg.run.iterations, cfg.eval.every) == (3, 10, 0)
    assert cfg.env.control.mode == "pd"


def test_env_step_counts_accept_scientific_notation():
    assert learn_bench.parse_steps("2.5e5") == 250_000
    assert learn_bench.parse_steps("1000") == 1000
    for bad in ("0", "-3", "many", "nan"):
        with pytest.raises(ValueError):
            learn_bench.parse_steps(bad)


def test_training_window_averages_the_last_iterations_before_the_mark(tmp_path):
    path = tmp_path / "metrics.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["iteration", "env_steps", "wall_s", "episode_count", "style_reward",
                    "disc_acc_demo", "disc_acc_agent"])
        for it in range(1, 31):
            w.writerow([it, it * 100, it, 4 if it <= 20 else 0, it, 1.0, 0.5])
    out = learn_bench.training_window(path, 20, 100)
    assert out["style_reward"] == pytest.approx(np.mean(range(11, 21)))
    assert out["episode_length"] == pytest.approx(100 * 10 / 40)  # env steps per episode end
    assert learn_bench.training_window(path, 30, 100)["episode_length"] is None  # none ended


def test_joint_velocity_ratio_skips_the_step_across_a_restart():
    dt = 0.02
    demo = np.zeros((10, 33))
    demo[:, 6:] = 1.0  # every hinge at 1 rad/s
    qpos = np.zeros((5, 34))
    qpos[:, 7:] = (np.arange(5) * 2.0 * dt)[:, None]  # 2 rad/s
    fell = np.zeros(5, bool)
    assert learn_bench.joint_velocity_rms_ratio(qpos, fell, dt, demo) == pytest.approx(2.0)
    qpos[3:, 7:] += 100.0  # a restart between steps 2 and 3 jumps the joints
    fell[2] = True
    assert learn_bench.joint_velocity_rms_ratio(qpos, fell, dt, demo) == pytest.approx(2.0)


def test_physics_setting_strings_and_the_choice_of_the_cheapest_clean_setting():
    p = physics_bench.parse_setting("hz=300,substeps=6,iterations=2,integrator=implicitfast")
    assert p.timestep == pytest.approx(1 / 300) and p.n_substeps == 6
    assert (p.solver_iterations, p.integrator) == (2, "implicitfast")
    assert p.control_dt == pytest.approx(0.02)
    joint = physics_bench.parse_setting("hz=100,substeps=2,damping=joint,legs=on")
    assert (joint.servo_damping, joint.leg_contacts, joint.n_substeps) == ("joint", True, 2)
    assert physics_bench.parse_setting("hz=100").servo_damping == "actuator"
    for bad, match in (("hz=150,substep=3", "unknown key 'substep'"),
                       ("hz=fast", "not a number"), ("integrator=rk4", "euler|implicitfast"),
                       ("damping=servo", "actuator|joint"), ("hz=50", "timestep")):
        with pytest.raises(physics_bench.SettingError, match=match):
            physics_bench.parse_setting(bad)
    rows = [
        {"control": "pd", "setting": "cheap", "blowups": 1, "env_steps_per_s": 900.0},
        {"control": "pd", "setting": "cheap", "blowups": 0, "env_steps_per_s": 900.0},
        {"control": "pd", "setting": "safe", "blowups": 0, "env_steps_per_s": 500.0},
        {"control": "pd", "setting": "slow", "blowups": 0, "env_steps_per_s": 100.0},
        {"control": "torque", "setting": "cheap", "blowups": 3, "env_steps_per_s": 900.0},
    ]
    assert physics_bench.choose(rows) == {"pd": "safe", "torque": None}


def test_bench_tables_in_a_log_file_are_not_squeezed_to_80_columns():
    import io

    from rich.console import Console
    from rich.table import Table

    from skeleton_steering.progress import print_wide

    table = Table(*[f"column {i}" for i in range(12)])
    table.add_row(*["1,234,567"] * 12)
    log = io.StringIO()
    console = Console(file=log)  # not a terminal
    print_wide(console, table)
    assert "1,234,567" in log.getvalue() and "…" not in log.getvalue()
    assert max(len(line) for line in log.getvalue().splitlines()) > 80
    assert console.width == 80  # the console is as it was
