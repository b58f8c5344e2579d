"""Environment stage: the MJX steering task on the skeleton.

Takes the expert cache (reference states for initialization); hands on pure `reset`/`step`
functions, observations, task rewards and discriminator features to the learner. `registry`
maps env ids such as `SkeletonTorque.walk.mocap` to a configured environment.
"""
