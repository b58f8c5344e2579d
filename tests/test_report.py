"""`skeleton-steering report`: curves across seeds, the eval table, the page, bad input.

Runs are written by hand (metrics.csv in the trainer's format), so every number the report
shows can be worked out here.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from skeleton_steering import cli
from skeleton_steering.report import build as report
from skeleton_steering.report import run_data as report_data


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


COLUMNS = ["iteration", "env_steps", "wall_s", "episode_length", "episode_return",
           "style_reward", "task_reward"]  # fmt: skip


def write_run(path: Path, rows: list[list[float]]) -> Path:
    path.mkdir(parents=True)
    with (path / "metrics.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        writer.writerows([[repr(float(v)) if i > 1 else int(v) for i, v in enumerate(r)]
                          for r in rows])  # fmt: skip
    return path


def write_eval(path: Path, metrics: dict) -> Path:
    path.write_text(json.dumps({"checkpoint": "x", "schedule": "scripted", "metrics": metrics,
                                "episodes": [{"episode": 0, "falls": 1}]}))  # fmt: skip
    return path


@pytest.fixture
def two_runs(tmp_path) -> list[Path]:
    # seed1 has steps 100, 200, 300; seed2 has 100 and 300 and no finished episode at 100.
    a = write_run(tmp_path / "runs" / "seed1", [
        [1, 100, 1.0, 10, 1.0, 0.5, 0.1],
        [2, 200, 2.0, 20, 2.0, 0.6, 0.2],
        [3, 300, 3.0, 30, 3.0, 0.7, 0.3],
    ])  # fmt: skip
    b = write_run(tmp_path / "runs" / "seed2", [
        [1, 100, 1.5, math.nan, math.nan, 0.1, 0.3],
        [2, 300, 3.5, 50, 5.0, 0.3, 0.5],
    ])  # fmt: skip
    return [a, b]


def test_curves_interpolate_each_seed_inside_its_own_range(two_runs):
    runs = [report_data.read_run(p) for p in two_runs]
    ret = report_data.curve(runs, "episode_return")
    np.testing.assert_array_equal(ret.steps, [100, 200, 300])
    # seed2's return starts at 300 (NaN at 100 is skipped): one seed at 100 and 200.
    np.testing.assert_allclose(ret.per_run["seed2"], [np.nan, np.nan, 5.0])
    np.testing.assert_allclose(ret.mean, [1.0, 2.0, 4.0])
    # Sample std of (3, 5) = sqrt(((3-4)^2 + (5-4)^2) / 1) = sqrt(2); one seed: none.
    np.testing.assert_allclose(ret.std, [np.nan, np.nan, math.sqrt(2.0)])

    task = report_data.curve(runs, "task_reward")
    # seed2 at 200 is interpolated between (100, 0.3) and (300, 0.5): 0.4.
    np.testing.assert_allclose(task.per_run["seed2"], [0.3, 0.4, 0.5])
    np.testing.assert_allclose(task.mean, [0.2, 0.3, 0.4])
    assert report_data.curve(runs, "no_such_metric") is None


def test_eval_table_mean_std_and_order(tmp_path):
    a = report_data.read_eval(write_eval(tmp_path / "a.json", {
        "falls": 2, "success_rate": 0.5, "custom": {"x": 1.0}, "heading_error_deg": None,
    }))  # fmt: skip
    b = report_data.read_eval(write_eval(tmp_path / "b.json", {
        "success_rate": 0.7, "falls": 4, "heading_error_deg": 10.0,
    }))  # fmt: skip
    table = report_data.eval_table(["seed1", "seed2"], [a, b])
    # Known metrics first in the report's order, then the others as first seen.
    assert table.metrics == ["success_rate", "heading_error_deg", "falls", "custom.x"]
    assert table.mean("success_rate") == pytest.approx(0.6)
    assert table.std("success_rate") == pytest.approx(math.sqrt(0.02))  # ddof 1
    assert table.mean("heading_error_deg") == 10.0  # null (non-finite) is left out
    assert math.isnan(table.std("heading_error_deg"))
    assert math.isnan(table.values["custom.x"]["seed2"])
    rounding = report_data.eval_table(["a", "b"], [{"len": 0.3}, {"len": 0.1 + 0.2}])
    assert rounding.std("len") == 0.0  # 0.3 vs 0.30000000000000004: the same number
    text = report_data.eval_table_csv(table).splitlines()
    assert text[0] == "metric,mean,std,seed1,seed2"
    assert text[3] == "falls,3.0,1.4142135623730951,2.0,4.0"
    assert text[4] == "custom.x,1.0,,1.0,"


def test_report_folder_has_page_curves_table_and_videos(two_runs, tmp_path):
    evals = [write_eval(tmp_path / f"e{i}.json", {"success_rate": 0.1 * i}) for i in (1, 2)]
    videos, previews = [], []
    for i in (1, 2):
        videos.append(tmp_path / f"v{i}.mp4")
        videos[-1].write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes([i]))
        previews.append(tmp_path / f"v{i}.gif")
        previews[-1].write_bytes(b"GIF89a" + bytes([i]))
    out = tmp_path / "report"
    code = cli.main(["report", "--runs", *map(str, two_runs), "--evals", *map(str, evals),
                     "--videos", *map(str, videos), "--previews", *map(str, previews),
                     "--out", str(out)])  # fmt: skip
    assert code == 0
    assert (out.stat().st_mode & 0o777) == 0o777 & ~_umask()  # not mkdtemp's private 0o700
    assert sorted(p.name for p in out.iterdir()) == [
        "eval_metrics.csv", "index.html", "learning_curves.svg", "training_curves.csv", "videos",
    ]  # fmt: skip
    # Videos are copied under the run's label, byte for byte.
    assert (out / "videos" / "seed2.mp4").read_bytes() == videos[1].read_bytes()
    assert (out / "videos" / "seed1.gif").read_bytes() == previews[0].read_bytes()
    page = (out / "index.html").read_text()
    assert '<video controls preload="metadata" src="videos/seed1.mp4">' in page
    assert '<img class="preview" src="videos/seed2.gif"' in page
    assert 'src="learning_curves.svg"' in page and "good steps" in page
    svg = (out / "learning_curves.svg").read_text()
    assert "<svg" in svg and "episode return" in svg
    curves = list(csv.DictReader((out / "training_curves.csv").open()))
    row = next(r for r in curves if r["metric"] == "episode_return" and r["env_steps"] == "300")
    assert float(row["mean"]) == 4.0 and float(row["std"]) == pytest.approx(math.sqrt(2.0))
    assert row["runs"] == "2"

    # Rebuilding gives the same bytes (no dates, fixed SVG ids), and replaces the folder whole.
    (out / "stale.txt").write_text("old")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    report.build(
        [str(p) for p in two_runs],
        [str(p) for p in evals],
        [str(p) for p in videos],
        [str(p) for p in previews],
        out,
        "SkeletonSteering: seeds side by side",
    )
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert "stale.txt" not in after
    assert after == {k: v for k, v in before.items() if k != "stale.txt"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report")]


def test_bad_input_is_named_and_leaves_the_old_report(two_runs, tmp_path, capsys):
    out = tmp_path / "report"
    assert cli.main(["report", "--runs", *map(str, two_runs), "--out", str(out)]) == 0
    before = (out / "index.html").read_bytes()

    def error(args: list[str]) -> str:
        assert cli.main(["report", *args, "--out", str(out)]) == 2
        return capsys.readouterr().err

    missing = tmp_path / "runs" / "seed9"
    assert "seed9/metrics.csv: no metrics file" in error(["--runs", str(missing)])
    one_eval = write_eval(tmp_path / "e.json", {"success_rate": 1.0})
    assert "1 given for 2 runs" in error(["--runs", *map(str, two_runs), "--evals",
                                          str(one_eval)])  # fmt: skip
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "bad.json: not valid JSON" in error(["--runs", str(two_runs[0]), "--evals", str(bad)])
    empty = write_run(tmp_path / "runs" / "seed5", [])
    assert "holds no training iteration yet" in error(["--runs", str(empty)])
    assert (out / "index.html").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report")]


def test_the_shipped_walker_comes_first_and_short_runs_are_called_smoke_runs(two_runs, tmp_path):
    evals = [write_eval(tmp_path / f"e{i}.json", {"success_rate": 0.1 * i}) for i in (1, 2)]
    ref = tmp_path / "shipped.json"
    ref.write_text(json.dumps({"checkpoint": "policies/walker.msgpack", "env_steps": 20000,
                               "metrics": {"success_rate": 0.95, "falls_per_minute": 0.0}}))
    video = tmp_path / "walker.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypisom")
    out = tmp_path / "report"
    assert cli.main(["report", "--runs", *map(str, two_runs), "--evals", *map(str, evals),
                     "--reference_eval", str(ref), "--reference_video", str(video),
                     "--out", str(out)]) == 0  # fmt: skip
    page = (out / "index.html").read_text()
    # Runs: the reference row before the seeds; evaluation: its column before mean and std.
    assert page.index("shipped walker") < page.index("seed1")
    assert '<th class="reference">shipped walker</th><th>mean</th>' in page
    assert '<td class="reference">0.95</td>' in page
    # Videos: the reference first.
    assert page.index("videos/reference.mp4") < page.index("<h2>Files")
    assert (out / "videos" / "reference.mp4").read_bytes() == video.read_bytes()
    # 300 env steps is under a tenth of the reference's 20,000: both seeds are smoke runs.
    assert page.count('<span class="smoke">smoke run</span>') == 2

    # A run with at least a tenth of the reference's env steps is not one.
    ref.write_text(json.dumps({"env_steps": 3000, "metrics": {"success_rate": 0.95}}))
    assert cli.main(["report", "--runs", *map(str, two_runs), "--reference_eval", str(ref),
                     "--out", str(out)]) == 0  # fmt: skip
    assert "smoke run" not in (out / "index.html").read_text()
    # Without a reference, the fixed floor decides.
    assert cli.main(["report", "--runs", *map(str, two_runs), "--out", str(out)]) == 0
    assert (out / "index.html").read_text().count('class="smoke"') == 2


def test_gait_numbers_and_plots_appear_beside_the_steering(two_runs, tmp_path):
    goals = {"cadence": {"pass": False}, "knee_swing_peak": {"pass": True},
             "percentile_gap": {"pass": True}, "speed": {"pass": False}}
    evals = []
    for i in (1, 2):
        path = tmp_path / f"g{i}.json"
        gait = {"available": True, "cadence_ratio": 1.0 + 0.1 * i, "strides": 40,
                "cost_of_transport": None, "goals": goals, "cycle": {"policy_mean": [[1.0]]}}
        plot = None
        if i == 1:
            plot = "g1_gait.png"
            (tmp_path / plot).write_bytes(b"\x89PNG\r\n\x1a\nplot")
        path.write_text(json.dumps({"metrics": {"success_rate": 0.5}, "gait": gait,
                                    "gait_plot": plot}))
        evals.append(path)
    unavailable = tmp_path / "old.json"
    unavailable.write_text(json.dumps({"metrics": {"success_rate": 0.4},
                                       "gait": {"available": False, "reason": "old export"}}))
    assert report_data.read_eval(unavailable) == {"success_rate": 0.4}
    numbers = report_data.read_eval(evals[0])
    assert numbers["gait.cadence_ratio"] == pytest.approx(1.1)
    assert numbers["gait.goals_passed"] == 2.0 and math.isnan(numbers["gait.cost_of_transport"])
    assert not [k for k in numbers if "cycle" in k]  # the curves stay in the plot
    out = tmp_path / "report"
    assert cli.main(["report", "--runs", *map(str, two_runs), "--evals", *map(str, evals),
                     "--out", str(out)]) == 0
    assert (out / "gait" / "seed1.png").read_bytes() == (tmp_path / "g1_gait.png").read_bytes()
    assert not (out / "gait" / "seed2.png").exists()
    page = (out / "index.html").read_text()
    assert "Gait cycle" in page and 'src="gait/seed1.png"' in page
    assert "cadence ratio (policy / demos)" in page
