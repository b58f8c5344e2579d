"""Data stage: AMASS/KIT clips in, a retargeted trajectory and expert caches out.

extract (clips -> kept clips + `manifest.json`) -> retarget (-> trajectory npz + QA json) ->
cache (-> `expert_traj.npz` + `expert_disc_obs.npz`, what the environment and the discriminator
read). The bundled sample generator stands in for real clips when none are given.
"""
