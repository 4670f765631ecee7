"""What-if's simulations, one at a time off the drawing thread, and the new runs taking the
old ones' place with the view, the modes and the playhead's message kept."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from iosim.scenario import Scenario
from iosim.trace import Run, Trace
from iosim.view.scene import ALL, ONE, Scene, make_scene


class Resimulation:
    """Simulates a changed scenario (and builds its lookup tables) in a worker thread; a
    change made meanwhile waits for it, and only the last one is simulated next."""

    def __init__(self, simulator: Callable[[Scenario], Trace] | None) -> None:
        self.simulator = simulator
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="iosim-whatif")
        self._job: Future[tuple[Trace, Scene]] | None = None
        self._next: Scenario | None = None

    @property
    def busy(self) -> bool:
        return self._job is not None

    def submit(self, sc: Scenario) -> None:
        if self._job is not None:
            self._next = sc
            return
        self._job = self._pool.submit(self._simulated, sc)

    def _simulated(self, sc: Scenario) -> tuple[Trace, Scene]:
        if self.simulator is None:
            raise RuntimeError("no simulator: these runs come from saved traces")
        trace = self.simulator(sc)
        return trace, make_scene([trace])

    def finished(self) -> tuple[Trace, Scene] | Exception | None:
        """The runs of the last change once simulated (what failed, if it did); None while
        it runs, or when a later change is still to come."""
        job = self._job
        if job is None or not job.done():
            return None
        self._job = None
        later, self._next = self._next, None
        if later is not None:
            self.submit(later)
            return None
        try:
            return job.result()
        except Exception as exc:  # noqa: BLE001 - a failed what-if must not close the window
            return exc

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def carried_over(old: Scene, trace: Trace, new: Scene) -> Scene:
    """New runs of the same scenario: the view, the axis, the speed, the visible range, the
    panels and the followed message stay; the playhead stays on the same message (at the same
    time past its data's arrival), or on the same time when the messages changed."""
    p = old.player
    t = _same_moment(old, trace.runs, p.t)
    count = len(new.runs)
    new.view = old.view if old.view != ONE or old.focus < count else ALL
    new.focus = min(old.focus, count - 1)
    new.labels, new.code, new.whatif, new.state = old.labels, old.code, old.whatif, old.state
    new.presentation, new.hints, new.slide = old.presentation, old.hints, old.slide
    new.follow = old.follow if old.follow is not None and old.follow < new.messages else None
    np = new.player
    np.axis_name, np.speed = p.axis_name, p.speed
    np.show_run(new.focus if new.view == ONE else None)
    np.keep_range(p)
    np.seek(t)
    return new


def _same_moment(old: Scene, runs: Sequence[Run], t: float) -> float:
    """Where the playhead goes in new runs: as far past the same message's arrival as it was
    (in the run shown, or the first); the same time when the messages changed."""
    if not runs or not old.runs:
        return t
    before = old.runs[old.focus if old.view == ONE else 0].run
    after = next((r for r in runs if r.model == before.model), runs[0])
    if after.message_count != before.message_count:
        return t
    arrived = [k for k in range(before.message_count) if before.m_ready[k] <= t]
    if not arrived:
        return t
    m = max(arrived, key=lambda k: before.m_ready[k])
    return after.m_ready[m] + (t - before.m_ready[m])
