"""Evaluation stage: a trained policy under command schedules.

Takes a policy (export or checkpoint); writes steering metrics (JSON + per-step CSV) and, with
the render stage, videos of trajectories and of policy rollouts (`render_cli`).
"""
