"""Rendering stage: the offscreen GL context, the scene with its tracking camera and command
arrows, and video encoding (H.264 + GIF preview).

Takes frames of skeleton states (qpos plus the command to draw); knows nothing of policies.
"""
