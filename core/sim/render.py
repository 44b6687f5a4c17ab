"""One offscreen GL context per MuJoCo model for every camera and size a cell renders.

mujoco.Renderer makes a GL context per instance, so a cell with a policy camera and an overview camera
had two; with Mesa's software rasteriser each switch between them flushes and costs about 2 ms, more
than rendering a 128 px frame (bench/bench_recording.py). This renders the same way mujoco.Renderer
does (mjv_updateScene with every category, mjr_render, mjr_readPixels, flip rows), through one
context, at any size up to the model's offscreen framebuffer. Cells whose policy camera is rendered by
gymnasium's MuJoCo renderer borrow that renderer's context (`SceneRenderer.sharing`) for the same reason.

Import after core.sim has set MUJOCO_GL (mujoco picks its GL backend on first import).
"""

from __future__ import annotations

import atexit
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import mujoco
import numpy as np
import numpy.typing as npt

MAX_GEOM = 10_000  # mujoco.Renderer's default


class SceneRenderer:
    """Renders `model`'s scene from any camera (name or MjvCamera) at width x height up to
    max_width x max_height, which are reserved in the model's offscreen framebuffer before the
    context is made."""

    def __init__(self, model: mujoco.MjModel, *, max_width: int, max_height: int) -> None:
        vis = model.vis.global_
        vis.offwidth, vis.offheight = max(vis.offwidth, max_width), max(vis.offheight, max_height)
        self._model = model
        self.max_width, self.max_height = int(vis.offwidth), int(vis.offheight)
        gl = mujoco.GLContext(self.max_width, self.max_height)
        gl.make_current()
        self._gl: Any = gl  # None once closed; a borrowed context is never freed here
        self._make_current: Callable[[], None] = gl.make_current
        self._ctx: mujoco.MjrContext | None = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150.value)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN.value, self._ctx)
        self._ctx.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR
        self._owned = True
        self._init_scene()

    @classmethod
    def sharing(
        cls, model: mujoco.MjModel, *, make_current: Callable[[], None], context: mujoco.MjrContext
    ) -> SceneRenderer:
        """A renderer drawing through another renderer's GL context and MjrContext (not freed by
        close()); sizes up to the model's offscreen framebuffer as it was when `context` was made."""
        renderer = cls.__new__(cls)
        renderer._model = model
        renderer.max_width, renderer.max_height = int(context.offWidth), int(context.offHeight)
        renderer._gl, renderer._make_current, renderer._ctx = True, make_current, context
        renderer._owned = False
        renderer._init_scene()
        return renderer

    def _init_scene(self) -> None:
        self._scene = mujoco.MjvScene(self._model, maxgeom=MAX_GEOM)
        self._option = mujoco.MjvOption()
        self._fixed: dict[str, mujoco.MjvCamera] = {}

    def _camera(self, camera: str | mujoco.MjvCamera) -> mujoco.MjvCamera:
        if isinstance(camera, mujoco.MjvCamera):
            return camera
        made = self._fixed.get(camera)
        if made is None:
            made = mujoco.MjvCamera()
            made.type = mujoco.mjtCamera.mjCAMERA_FIXED
            made.fixedcamid = self._model.camera(camera).id
            self._fixed[camera] = made
        return made

    def render(
        self, data: mujoco.MjData, *, camera: str | mujoco.MjvCamera, width: int, height: int
    ) -> npt.NDArray[np.uint8]:
        """An RGB uint8 (height, width, 3) image of `data` from `camera`. Raises RuntimeError once
        closed, ValueError for a size beyond the framebuffer."""
        if self._gl is None or self._ctx is None:
            raise RuntimeError("renderer is closed")
        if width > self.max_width or height > self.max_height:
            raise ValueError(f"{width}x{height} exceeds the {self.max_width}x{self.max_height} framebuffer")
        mujoco.mjv_updateScene(
            self._model, data, self._option, None, self._camera(camera), mujoco.mjtCatBit.mjCAT_ALL.value, self._scene
        )
        self._make_current()
        rect = mujoco.MjrRect(0, 0, width, height)
        out = np.empty((height, width, 3), dtype=np.uint8)
        mujoco.mjr_render(rect, self._scene, self._ctx)
        mujoco.mjr_readPixels(out, None, rect, self._ctx)
        return np.flipud(out).copy()

    def close(self) -> None:
        """Free the GL context (unless borrowed); rendering afterwards raises RuntimeError."""
        if self._owned and self._gl is not None:
            self._gl.free()
        if self._owned and self._ctx is not None:
            self._ctx.free()
        self._gl = self._ctx = None


def free_camera(pose: Mapping[str, Any]) -> mujoco.MjvCamera:
    """A free camera placed by a cell's `pose` ("lookat" point, "distance" in m, "azimuth" and
    "elevation" in degrees)."""
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.lookat[:] = pose["lookat"]
    camera.distance, camera.azimuth, camera.elevation = pose["distance"], pose["azimuth"], pose["elevation"]
    return camera


def gym_overview_renderer(env: Any) -> SceneRenderer:
    """A renderer drawing in a gymnasium MuJoCo env's own GL context (its viewer made on first use): a
    second context costs more per switch than the frame."""
    if env.mujoco_renderer.viewer is None:
        env.render()
    viewer = env.mujoco_renderer.viewer
    return SceneRenderer.sharing(env.model, make_current=viewer.make_context_current, context=viewer.con)


class _Closable(Protocol):
    def close(self) -> None: ...


_OPEN: weakref.WeakSet[Any] = weakref.WeakSet()
_atexit_registered = False


def _close_open() -> None:
    # A GL context freed by the garbage collector at interpreter exit raises EGL errors (mujoco's own
    # atexit hook has terminated the EGL display by then), so close renderers before that hook runs.
    for cell in list(_OPEN):
        cell.close()


def close_at_exit(cell: _Closable) -> None:
    """Close `cell` (its renderer) at interpreter exit unless it was closed or collected before."""
    global _atexit_registered
    _OPEN.add(cell)
    if not _atexit_registered:
        # Registered after mujoco's hook (made with the first GL context), so it runs before it: LIFO.
        atexit.register(_close_open)
        _atexit_registered = True
