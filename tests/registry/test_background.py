"""WokenThread: the loop of the capture worker, the scan watcher, the scan flusher and the
live board. Every wait here is on an event the thread sets, with a timeout only as a guard."""

from __future__ import annotations

import logging
import threading

import pytest

from registry.background import WokenThread

log = logging.getLogger(__name__)
GUARD = 5.0  # seconds: a step that never comes fails the test instead of hanging it
NEVER = 3600.0  # an interval no test waits for: every step here is a start or a wake


class Steps:
    """A step that counts its runs, signals each one, and raises on the runs it is told to."""

    def __init__(self, failing: set[int] | None = None) -> None:
        self.runs = 0
        self.failing = failing or set()
        self.ran = threading.Event()
        self.thread_names: list[str] = []

    def __call__(self) -> None:
        self.runs += 1
        self.thread_names.append(threading.current_thread().name)
        self.ran.set()
        if self.runs in self.failing:
            raise RuntimeError(f"run {self.runs} fails")

    def next_run(self) -> None:
        assert self.ran.wait(GUARD), f"no step after run {self.runs}"
        self.ran.clear()


def test_at_start_steps_at_once_then_on_each_wake() -> None:
    steps = Steps()
    thread = WokenThread("test-woken", steps, NEVER, log=log, failure="x", at_start=True)
    thread.start()
    try:
        steps.next_run()
        assert steps.runs == 1
        thread.wake()
        steps.next_run()
        assert steps.runs == 2
    finally:
        thread.stop()
    assert thread.stopped
    assert steps.thread_names == ["test-woken", "test-woken"]
    assert not any(t.name == "test-woken" for t in threading.enumerate())


def test_without_at_start_the_first_step_waits_for_a_wake() -> None:
    steps = Steps()
    thread = WokenThread("test-woken", steps, NEVER, log=log, failure="x")
    thread.start()
    try:
        assert not steps.ran.wait(0.2)  # nothing to wait for: no step may come
        thread.wake()
        steps.next_run()
        assert steps.runs == 1
    finally:
        thread.stop()
    assert steps.runs == 1  # stopping wakes the thread but runs no step


def test_the_interval_runs_steps_unwoken() -> None:
    steps = Steps()
    thread = WokenThread("test-woken", steps, 0.01, log=log, failure="x")
    thread.start()
    try:
        for _ in range(3):
            steps.next_run()
    finally:
        thread.stop()
    assert steps.runs >= 3


def test_a_failing_step_is_logged_and_the_thread_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    steps = Steps(failing={1})
    thread = WokenThread(
        "test-woken", steps, NEVER, log=log, failure="step failed; retrying", at_start=True
    )
    with caplog.at_level(logging.WARNING, logger=__name__):
        thread.start()
        try:
            steps.next_run()
            thread.wake()
            steps.next_run()
        finally:
            thread.stop()
    assert steps.runs == 2
    failed = [r for r in caplog.records if r.name == __name__]
    assert [r.getMessage() for r in failed] == ["step failed; retrying"]
    assert failed[0].levelno == logging.WARNING and failed[0].exc_info is not None


def test_step_now_runs_in_the_callers_thread_and_logs_its_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    steps = Steps(failing={1})
    thread = WokenThread("test-woken", steps, NEVER, log=log, failure="step failed")
    with caplog.at_level(logging.WARNING, logger=__name__):
        thread.step_now()
    assert steps.thread_names == [threading.current_thread().name]
    assert [r.getMessage() for r in caplog.records if r.name == __name__] == ["step failed"]


def test_stop_before_start_and_twice_is_harmless_and_start_runs_again() -> None:
    steps = Steps()
    thread = WokenThread("test-woken", steps, NEVER, log=log, failure="x", at_start=True)
    thread.stop()
    assert thread.stopped
    thread.start()
    assert not thread.stopped
    steps.next_run()
    thread.stop()
    thread.stop()
    thread.start()  # a new thread, as LiveBoard does after a stop
    try:
        steps.next_run()
    finally:
        thread.stop()
    assert steps.runs == 2
