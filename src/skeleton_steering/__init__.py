"""SkeletonSteering: a torque-driven skeleton in MuJoCo MJX that learns to steer with AMP + PPO."""

__version__ = "0.1.0"
