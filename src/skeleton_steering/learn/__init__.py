"""Learning stage: AMP + PPO on the steering environment.

Takes the environment and the expert cache; writes a run directory: resolved config,
`metrics.csv`, TensorBoard events, training checkpoints (for resume) and the policy export
(what evaluation and rendering load).
"""
