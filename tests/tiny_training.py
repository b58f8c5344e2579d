"""The tiny training config that test_train.py and test_eval.py share: with the same network
and batch sizes, train.run compiles the training iteration once for the whole session."""

TINY = {
    "ppo": {"num_envs": 8, "rollout_length": 8, "num_minibatches": 2, "epochs": 2},
    "amp": {"num_minibatches": 2, "replay_capacity": 256},
    # The std ceiling (from 0.1 down to 0.05 by the end of the first iteration) is on, so the
    # shared run also shows that training applies it.
    "network": {"policy_hidden": [32, 32], "value_hidden": [32, 32], "disc_hidden": [32, 32],
                "final_std": 0.05, "std_decay_start": 0, "std_decay_end": 64},
    "eval": {"every": 2, "steps": 20, "heading_offsets_deg": [0.0, 90.0], "speeds": [1.0]},
    "run": {"iterations": 3, "log_every": 1, "checkpoint_every": 2},
}
