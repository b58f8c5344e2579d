"""The demonstrations' gait statistics of a run's expert data (what a policy export carries).

Expert data holds the clips concatenated (`qpos`, `qvel`) and their transitions as feature
pairs [s_t, s_t+1] in frame order, one pair for every frame but each clip's last. Where one
pair's s_t+1 is not the next pair's s_t, a clip ended: that is how the clips are recovered
here (checked against the frame count), so no other file is needed.
"""

from __future__ import annotations

import numpy as np

from skeleton_steering.data import gait_stats
from skeleton_steering.learn.expert_data import ExpertData


def clips_of(expert: ExpertData) -> list[tuple[np.ndarray, np.ndarray]]:
    """The expert data's clips as (qpos, qvel) pairs; `GaitStatsError` when they do not fit."""
    if expert.qpos is None or expert.qvel is None:
        return []
    if expert.qpos.shape[0] < 2:  # one frame, paired with itself (the standing demo)
        return [(expert.qpos, expert.qvel)]
    pairs = expert.disc_pairs
    half = pairs.shape[1] // 2
    breaks = np.flatnonzero(np.any(pairs[:-1, half:] != pairs[1:, :half], axis=1)) + 1
    chains = np.diff(np.concatenate([[0], breaks, [len(pairs)]]))  # pairs per clip
    frames = chains + 1
    if int(frames.sum()) != expert.qpos.shape[0]:
        raise gait_stats.GaitStatsError(
            f"{expert.source}: {expert.qpos.shape[0]} frames do not split into the "
            f"{len(chains)} clips its {len(pairs)} transitions describe"
        )
    ends = np.cumsum(frames)
    return [(expert.qpos[a:b], expert.qvel[a:b]) for a, b in zip(ends - frames, ends, strict=True)]


def stats_of(expert: ExpertData, control_dt: float) -> gait_stats.GaitStats:
    """Gait statistics of the expert data (at the control rate); `GaitStatsError` without gait."""
    clips = clips_of(expert)
    if not clips:
        raise gait_stats.GaitStatsError(f"{expert.source}: no demo clips (the standing pose)")
    return gait_stats.from_clips(clips, 1.0 / control_dt)


def stats_or_none(expert: ExpertData, control_dt: float) -> gait_stats.GaitStats | None:
    """`stats_of`, or None when the demos hold no gait (an export then says so at eval)."""
    try:
        return stats_of(expert, control_dt)
    except gait_stats.GaitStatsError:
        return None
