"""Each indexed connection's own schedule in the background worker."""

from __future__ import annotations

from server.sync_schedule import Schedule


def test_new_connections_are_due_at_once_and_the_longest_overdue_goes_first() -> None:
    schedule = Schedule(300)
    schedule.keep(["b", "a"], now=0)
    schedule.ended("a", 10, go_on=False)  # due at 310
    schedule.keep(["a", "b", "c"], now=20)  # c is new: due at 20
    assert schedule.due(400, busy=set(), slots=3) == ["b", "c", "a"]
    assert schedule.due(400, busy={"b"}, slots=1) == ["c"]
    assert schedule.due(100, busy=set(), slots=3) == ["b", "c"]
    assert schedule.next_due(busy={"b", "c"}) == 310


def test_a_pass_that_stopped_at_a_bound_goes_on_behind_everyone_waiting() -> None:
    schedule = Schedule(300)
    schedule.keep(["hostile", "healthy"], now=0)
    schedule.ended("hostile", 1800, go_on=True)  # its pass took every second it had
    assert schedule.due(1800, busy=set(), slots=1) == ["healthy"]
    schedule.ended("healthy", 1801, go_on=False)
    assert schedule.due(1801, busy=set(), slots=1) == ["hostile"]
    assert schedule.next_due(busy={"hostile"}) == 2101


def test_a_removed_connection_is_forgotten() -> None:
    schedule = Schedule(300)
    schedule.keep(["a", "b"], now=0)
    schedule.keep(["b"], now=5)
    schedule.ended("a", 6, go_on=True)  # a pass of it that was still running
    assert schedule.due(10, busy=set(), slots=5) == ["b"]
