"""The tiny training config that test_train.py and test_eval.py share: with the same network
and batch sizes, train.run compiles the training iteration once for the whole session."""

TINY = {
    "ppo": {"num_envs": 8, "rollout_length": 8, "num_minibatches": 2, "epochs": 2},
    "amp": {"num_minibatches": 2, "replay_capacity": 256},
    "network": {"policy_hidden": [32, 32], "value_hidden": [32, 32], "disc_hidden": [32, 32]},
    "eval": {"every": 2, "steps": 20, "heading_offsets_deg": [0.0, 90.0], "speeds": [1.0]},
    "run": {"iterations": 3, "log_every": 1, "checkpoint_every": 2},
}
