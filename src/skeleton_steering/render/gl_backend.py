"""Choosing the OpenGL backend for offscreen rendering, and creating its context.

MuJoCo renders offscreen through one of several GL platforms, named by the `MUJOCO_GL`
environment variable. On Linux we try, in order:

* `egl`: the GPU's EGL driver when there is one; without a GPU, Mesa's EGL exposes a software
  device (llvmpipe), so `egl` also works on CPU-only machines once Mesa's EGL and DRI
  packages are installed (Debian: libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0);
* `osmesa`: Mesa's off-screen software renderer (Debian: libosmesa6).

A `MUJOCO_GL` set by the user is respected: it is the only backend tried. Each candidate is
probed in a fresh Python process, because a failed GL platform cannot be swapped for another
inside one process (PyOpenGL binds its platform on first import, and a broken driver may
crash the process). The choice is exported as `MUJOCO_GL` so that MuJoCo, when imported
later in this process, agrees with it; the context itself is created here from the chosen
platform's class, so the choice holds even where `mujoco` was imported first.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Callable, MutableMapping
from functools import cache
from typing import Any

# Debian packages that provide each backend without a GPU (the GPU's own driver provides EGL
# when there is one).
DEBIAN_PACKAGES: dict[str, tuple[str, ...]] = {
    "egl": ("libegl1", "libegl-mesa0", "libgl1-mesa-dri", "libopengl0"),
    "osmesa": ("libosmesa6",),
}
INSTALL_SCRIPT = "scripts/install_system_deps.sh"
_DISABLED = ("disable", "disabled", "off", "false", "0")
PROBE_TIMEOUT_S = 120.0

# Run in a fresh interpreter: create the context, make it current and build MuJoCo's render
# context on a one-geom model, which is what rendering needs. Missing libraries are named
# first, since PyOpenGL's own error for them is an unrelated-looking AttributeError.
_PROBE_CODE = """
import ctypes.util, sys
backend = sys.argv[1]
lib = {"egl": "EGL", "osmesa": "OSMesa"}.get(backend)
if lib and ctypes.util.find_library(lib) is None:
    sys.exit(f"lib{lib} not found")
import mujoco
from skeleton_steering.render.gl_backend import context_class
ctx = context_class(backend)(64, 64)
ctx.make_current()
model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='1'/></worldbody></mujoco>")
con = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
con.free()
ctx.free()
"""


class GLBackendError(ValueError):
    """No OpenGL backend works for offscreen rendering; the message says what to install.

    A `ValueError` so that the command line reports it as one line.
    """


Probe = Callable[[str], str | None]


def candidates() -> tuple[str, ...]:
    """Backends tried, in order, when `MUJOCO_GL` is not set."""
    system = platform.system()
    if system == "Linux":
        return ("egl", "osmesa")
    if system == "Darwin":
        return ("cgl", "glfw")
    return ("glfw",)


def install_hint() -> str:
    packages = " ".join(p for pkgs in DEBIAN_PACKAGES.values() for p in pkgs)
    return (
        "Without a GPU, Mesa's software renderer serves both egl and osmesa: on Debian/Ubuntu "
        f"run `sudo {INSTALL_SCRIPT}` (or `sudo apt-get install {packages}`); elsewhere install "
        "Mesa's EGL and DRI drivers or OSMesa; or set MUJOCO_GL to a backend that works here"
    )


def probe(backend: str) -> str | None:
    """None if `backend` can render offscreen in a fresh process, else the reason it cannot."""
    env = {**os.environ, "MUJOCO_GL": backend}
    try:
        result = subprocess.run(
            [sys.executable, "-c", _PROBE_CODE, backend], env=env, capture_output=True,
            text=True, timeout=PROBE_TIMEOUT_S, check=False,
        )
    except subprocess.TimeoutExpired:
        return f"probe timed out after {PROBE_TIMEOUT_S:.0f} s"
    if result.returncode == 0:
        return None
    lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
    # The last line of a traceback is the exception; the message adds its own full stop.
    return lines[-1].rstrip(".") if lines else f"probe exited with status {result.returncode}"


def select_backend(
    probe_fn: Probe = probe, environ: MutableMapping[str, str] | None = None,
) -> str:
    """The GL backend to render with; exported as `MUJOCO_GL` in `environ`.

    A non-empty `MUJOCO_GL` in `environ` is the only backend tried; otherwise `candidates()`
    in order. Raises `GLBackendError` (one message: what failed and what to install) when
    none works.
    """
    env = os.environ if environ is None else environ
    requested = env.get("MUJOCO_GL", "").strip().lower()
    if requested in _DISABLED:
        raise GLBackendError(
            f"MUJOCO_GL={env['MUJOCO_GL']} turns MuJoCo's rendering off; unset it (egl, then "
            "osmesa, are tried) or set it to a working backend"
        )
    if requested:
        reason = probe_fn(requested)
        if reason is None:
            return requested
        raise GLBackendError(
            f"MUJOCO_GL={requested} (set in the environment) cannot render offscreen: "
            f"{reason}. Unset MUJOCO_GL to try {', then '.join(candidates())}. "
            + install_hint()
        )
    failures = []
    for backend in candidates():
        reason = probe_fn(backend)
        if reason is None:
            env["MUJOCO_GL"] = backend
            return backend
        failures.append(f"{backend}: {reason}")
    raise GLBackendError(
        "no OpenGL backend for offscreen rendering works (" + "; ".join(failures) + "). "
        + install_hint()
    )


@cache
def active_backend() -> str:
    """`select_backend()` for this process, probed once (failures are not cached)."""
    return select_backend()


def context_class(backend: str) -> Any:
    """MuJoCo's GL context class for `backend` (imports the platform's bindings)."""
    if backend in ("egl", "osmesa"):
        # MuJoCo's platform modules refuse a PYOPENGL_PLATFORM other than their own; set it
        # only when absent so that a conflicting user setting is reported, not overridden.
        os.environ.setdefault("PYOPENGL_PLATFORM", backend)
    if backend == "egl":
        from mujoco.egl import GLContext
    elif backend == "osmesa":
        from mujoco.osmesa import GLContext
    elif backend == "cgl":
        from mujoco.cgl import GLContext
    else:
        from mujoco.glfw import GLContext
    return GLContext


def create_context(backend: str, width: int, height: int) -> Any:
    """A current GL context of `backend` able to hold a `width` x `height` image."""
    try:
        ctx = context_class(backend)(width, height)
        ctx.make_current()
    except Exception as err:
        # PyOpenGL and the platform modules raise many unrelated types (ImportError,
        # RuntimeError, EGLError, AttributeError); all mean the same thing here.
        raise GLBackendError(
            f"MUJOCO_GL={backend}: creating the GL context failed ({type(err).__name__}: "
            f"{err}). " + install_hint()
        ) from err
    return ctx
