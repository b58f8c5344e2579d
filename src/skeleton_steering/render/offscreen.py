"""Offscreen rendering of the skeleton: GL context, a camera that follows the root, arrows
added to the scene and text drawn over the image.

We drive MuJoCo's renderer (`MjrContext`, `mjr_render`) directly rather than through
`mujoco.Renderer`, for two reasons: the GL context comes from the backend chosen in
`gl_backend` even when `mujoco` was imported before the choice was made (`mujoco.Renderer`
binds its platform at import time), and owning the render context lets MuJoCo's own overlay
(`mjr_overlay`, `mjr_text`) draw text into the offscreen image.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import mujoco
import numpy as np

from skeleton_steering.render import gl_backend
from skeleton_steering.skeleton import model as skel

# Shadow maps are square textures rendered every frame; the model's 4096 px map costs more than
# the rest of a 640x480 frame in a software renderer, and 2048 px shadows look the same at
# video sizes.
SHADOW_SIZE = 2048


@dataclasses.dataclass(frozen=True)
class Arrow:
    """An arrow in the scene from `start` to `end` (world frame, metres), `width` thick.

    `rgb` channels should be 0 or 255 for the colour to appear exactly in the image: the
    arrow is emissive, so lighting can only saturate a channel, never dim it.
    """

    start: tuple[float, float, float]
    end: tuple[float, float, float]
    rgb: tuple[int, int, int]
    width: float


@dataclasses.dataclass(frozen=True)
class Text:
    """Text drawn over the image: `labels` and `values` as MuJoCo's two-column overlay at the
    top left, `legend` as (line, text rgb in [0, 1]) boxes stacked at the bottom left."""

    labels: str = ""
    values: str = ""
    legend: tuple[tuple[str, tuple[float, float, float]], ...] = ()


def root_yaw(qpos: np.ndarray) -> float:
    """Heading of the root (rotation of the pelvis X axis about world Z), radians."""
    w, x, y, z = (float(v) for v in qpos[3:7])
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


@dataclasses.dataclass
class FollowCamera:
    """A free camera behind and to the side of the character, following it smoothly.

    The look-at point tracks the root at a fixed height (no bobbing with the gait) and the
    azimuth follows the root's heading more slowly, so turns stay visible against the floor.
    A jump of the root farther than `snap_distance` in one frame (a new clip, an episode
    reset) moves the camera at once instead of sweeping across the floor.
    """

    distance: float = 4.5
    elevation_deg: float = -22.0
    side_deg: float = 70.0  # azimuth offset from the heading; 0 = straight behind
    lookat_height: float = 0.85
    position_tau: float = 0.25  # s, time constant of the look-at smoothing
    heading_tau: float = 1.5  # s, time constant of the azimuth smoothing
    snap_distance: float = 1.0
    _lookat: np.ndarray | None = None
    _yaw: float = 0.0

    def update(self, qpos: np.ndarray, dt: float) -> None:
        target = np.array([qpos[0], qpos[1], self.lookat_height], dtype=np.float64)
        yaw = root_yaw(qpos)
        if self._lookat is None or np.linalg.norm(target - self._lookat) > self.snap_distance:
            self._lookat, self._yaw = target, yaw
            return
        a_pos = 1.0 - math.exp(-dt / self.position_tau)
        a_yaw = 1.0 - math.exp(-dt / self.heading_tau)
        self._lookat = self._lookat + a_pos * (target - self._lookat)
        self._yaw = _wrap(self._yaw + a_yaw * _wrap(yaw - self._yaw))

    def apply(self, cam: mujoco.MjvCamera) -> None:
        if self._lookat is None:
            raise RuntimeError("FollowCamera.apply before the first update")
        cam.type = mujoco.mjtCamera.mjCAMERA_FREE
        cam.lookat[:] = self._lookat
        cam.distance = self.distance
        cam.elevation = self.elevation_deg
        cam.azimuth = math.degrees(self._yaw) + self.side_deg


def _font_scale(height: int) -> mujoco.mjtFontScale:
    # MuJoCo's fonts have a fixed pixel size per scale (100 is about 18 px per line, and the
    # smallest it renders); larger images get larger text.
    if height < 720:
        return mujoco.mjtFontScale.mjFONTSCALE_100
    if height < 1440:
        return mujoco.mjtFontScale.mjFONTSCALE_150
    return mujoco.mjtFontScale.mjFONTSCALE_200


# Below this image height the legend would cover the character, so it is left out.
MIN_LEGEND_HEIGHT = 240


class SceneRenderer:
    """Renders skeleton poses to RGB arrays (height, width, 3) uint8 with a GL context of its
    own. Use as a context manager, or call `close()`: contexts left to the garbage collector
    at interpreter exit raise errors from the EGL driver."""

    def __init__(self, width: int, height: int, backend: str | None = None) -> None:
        self.width, self.height = int(width), int(height)
        self.model = skel.load_mj_model()
        vis = self.model.vis
        vis.global_.offwidth = max(vis.global_.offwidth, self.width)
        vis.global_.offheight = max(vis.global_.offheight, self.height)
        vis.quality.shadowsize = SHADOW_SIZE
        self.data = mujoco.MjData(self.model)
        self.camera = mujoco.MjvCamera()
        self.option = mujoco.MjvOption()
        self.scene = mujoco.MjvScene(self.model, maxgeom=self.model.ngeom + 16)
        # The floor's mirror image draws the whole scene a second time; at our floor
        # reflectance (0.1) it is barely visible, and software renderers pay full price.
        self.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        self._rect = mujoco.MjrRect(0, 0, self.width, self.height)
        self._gl = gl_backend.create_context(backend or gl_backend.active_backend(),
                                             self.width, self.height)
        try:
            self._con: mujoco.MjrContext | None = mujoco.MjrContext(
                self.model, _font_scale(self.height))
            mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._con)
        except BaseException:
            self._gl.free()
            raise
        self._pixels = np.empty((self.height, self.width, 3), dtype=np.uint8)

    def __enter__(self) -> SceneRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._con is not None:
            self._gl.make_current()
            self._con.free()
            self._con = None
            self._gl.free()

    def render(
        self, qpos: np.ndarray, camera: FollowCamera, arrows: Sequence[Arrow] = (),
        text: Text | None = None,
    ) -> np.ndarray:
        """The image of the skeleton at `qpos` seen from `camera` (a new array)."""
        if self._con is None:
            raise RuntimeError("SceneRenderer.render after close()")
        self.data.qpos[:] = qpos
        mujoco.mj_forward(self.model, self.data)
        camera.apply(self.camera)
        mujoco.mjv_updateScene(self.model, self.data, self.option, None, self.camera,
                               mujoco.mjtCatBit.mjCAT_ALL, self.scene)
        for arrow in arrows:
            self._add_arrow(arrow)
        self._gl.make_current()
        mujoco.mjr_render(self._rect, self.scene, self._con)
        if text is not None:
            self._draw_text(text)
        mujoco.mjr_readPixels(self._pixels, None, self._rect, self._con)
        # OpenGL's rows run bottom to top.
        return np.flipud(self._pixels).copy()

    def _add_arrow(self, arrow: Arrow) -> None:
        if self.scene.ngeom >= self.scene.maxgeom:
            raise RuntimeError(f"scene holds at most {self.scene.maxgeom} geoms")
        start = np.asarray(arrow.start, dtype=np.float64)
        end = np.asarray(arrow.end, dtype=np.float64)
        if np.linalg.norm(end - start) < 1e-6:
            return
        geom = self.scene.geoms[self.scene.ngeom]
        rgba = np.array([*(c / 255.0 for c in arrow.rgb), 1.0], dtype=np.float32)
        mujoco.mjv_initGeom(geom, mujoco.mjtGeom.mjGEOM_ARROW, np.zeros(3), np.zeros(3),
                            np.eye(3).ravel(), rgba)
        mujoco.mjv_connector(geom, mujoco.mjtGeom.mjGEOM_ARROW, arrow.width, start, end)
        geom.emission = 1.0
        geom.specular = 0.0
        geom.shininess = 0.0
        geom.reflectance = 0.0
        geom.category = mujoco.mjtCatBit.mjCAT_DECOR
        self.scene.ngeom += 1

    def _draw_text(self, text: Text) -> None:
        assert self._con is not None
        if text.labels:
            mujoco.mjr_overlay(mujoco.mjtFont.mjFONT_NORMAL, mujoco.mjtGridPos.mjGRID_TOPLEFT,
                               self._rect, text.labels, text.values, self._con)
        if self.height < MIN_LEGEND_HEIGHT:
            return
        # Legend lines stacked from the bottom left, each on a dark box sized to its text.
        pad = max(2, self._con.charHeight // 4)
        line_h = self._con.charHeight + 2 * pad
        for i, (label, rgb) in enumerate(reversed(text.legend)):
            width = sum(int(self._con.charWidth[ord(c)]) for c in label if ord(c) < 127)
            rect = mujoco.MjrRect(pad, pad + i * line_h, width + 4 * pad, line_h)
            mujoco.mjr_label(rect, mujoco.mjtFont.mjFONT_NORMAL, label, 0.1, 0.1, 0.1, 0.6,
                             *rgb, self._con)
