"""How much of the discriminator's verdict is exploration noise: a policy's style reward and
steering on the scripted schedule, with its mean actions plus Gaussian noise of fixed stds.

    python scripts/action_noise_probe.py policies/walker.msgpack --n_steps 750

Prints one JSON line per std (0 = the mean actions; the last is the policy's learned std).
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import jax
import jax.numpy as jp
import numpy as np

from skeleton_steering.evaluate import rollout as evaluation
from skeleton_steering.evaluate import schedules, steering_metrics
from skeleton_steering.evaluate.eval_cli import MOVING_THRESHOLD, SETTLE_SECONDS


def _with_std(params: evaluation.EvalParams, std: float) -> evaluation.EvalParams:
    policy = jax.tree.map(lambda x: x, params.policy)
    policy["params"]["log_std"] = jp.full_like(policy["params"]["log_std"], np.log(std))
    return params._replace(policy=policy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_path")
    parser.add_argument("--n_steps", type=int, default=750)
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--stds", type=float, nargs="+", default=[0.0, 0.02, 0.04, 0.06])
    args = parser.parse_args()

    model = evaluation.load_model(args.model_path)
    sched = schedules.make_schedule(
        "scripted", args.n_steps, model.evaluator.env.control_dt, episodes=args.episodes,
        command_config=model.config.env.command, seed=0,
    )  # fmt: skip
    learned = float(np.exp(np.asarray(model.params.policy["params"]["log_std"])).mean())
    for std in [*args.stds, learned]:
        params = model.params if std == 0 else _with_std(model.params, std)
        res = evaluation.rollout(dataclasses.replace(model, params=params), sched, seed=0,
                                 deterministic=std == 0)
        met = steering_metrics.summarize_rollouts(
            evaluation.steering_records(res, sched), SETTLE_SECONDS, MOVING_THRESHOLD
        )
        names = ("success_rate", "heading_error_deg", "speed_error_mps", "falls_per_minute")
        print(json.dumps({"std": round(std, 4), "style_reward": round(float(res.style.mean()), 3),
                          **{k: round(float(met[k]), 3) for k in names}}), flush=True)


if __name__ == "__main__":
    main()
