"""The body: the skeleton MJCF (`assets/`), model loading and name maps, physics settings,
spatial maths, forward kinematics and the discriminator feature function.

Every stage below builds on it; it imports nothing from them.
"""
