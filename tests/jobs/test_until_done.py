"""`until_done` runs a task's batches until it has caught up, not chasing what arrives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from thudo.jobs.runner import until_done


class _Session:
    async def __aenter__(self) -> _Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def commit(self) -> None:
        return None


def _steps(sizes: list[int]) -> Any:
    """A step that did sizes[0] things, then sizes[1], …; records how often it ran."""
    left: Iterator[int] = iter(sizes)
    ran: list[int] = []

    async def step(session: Any) -> int:
        ran.append(done := next(left))
        return done

    step.ran = ran  # type: ignore[attr-defined]
    return step


async def test_without_a_batch_size_it_runs_until_a_batch_does_nothing() -> None:
    step = _steps([5, 5, 2, 1, 0, 9])
    assert await until_done(_Session, step) == 13
    assert step.ran == [5, 5, 2, 1, 0]


async def test_with_a_batch_size_it_stops_at_the_first_batch_that_is_not_full() -> None:
    # Full batches mean more was waiting; a partial one means it caught up: rows that
    # arrive while it works (the 2, the 1) wait for the next run instead of being chased.
    step = _steps([5, 5, 2, 1, 0])
    assert await until_done(_Session, step, batch=5) == 12
    assert step.ran == [5, 5, 2]
    step = _steps([0, 4])
    assert await until_done(_Session, step, batch=5) == 0
    assert step.ran == [0]
