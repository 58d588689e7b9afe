"""Which records of a partition a live consumer may apply: only an unbroken run from the stored
offset. Anything past a hole is left for a consumer sought back to the stored offset, so a batch
lost on the way (a faust agent that crashed with it) is read again, never skipped."""

from __future__ import annotations

from huigong_platform.subscriptions import RawRecord, in_sequence_from


def records(*offsets: int) -> list[RawRecord]:
    return [RawRecord("t", 0, o, None, None, ()) for o in offsets]


def run(start: int, *offsets: int) -> tuple[list[int], int, bool]:
    raws = records(*offsets)
    kept, items, below, left_out = in_sequence_from(start, raws, [None] * len(raws))  # type: ignore[list-item]
    assert len(items) == len(kept)
    return [r.offset for r in kept], below, left_out


def test_a_batch_that_continues_at_the_checkpoint_is_applied_whole() -> None:
    assert run(10, 10, 11, 12) == ([10, 11, 12], 0, False)


def test_records_below_the_checkpoint_were_applied_already_and_are_dropped() -> None:
    assert run(10, 8, 9, 10, 11) == ([10, 11], 2, False)
    assert run(10, 7, 8, 9) == ([], 3, False)


def test_a_batch_that_starts_past_the_checkpoint_is_not_applied() -> None:
    # 10..19 were handed to an agent that crashed; faust went on with 20.
    assert run(10, 20, 21, 22) == ([], 0, True)


def test_the_run_stops_at_a_hole_and_what_lies_beyond_waits() -> None:
    assert run(10, 10, 11, 15, 16) == ([10, 11], 0, True)


def test_records_read_before_a_seek_back_and_again_after_it_apply_once() -> None:
    # 20, 21 were in faust's buffer when the consumer was sought back to 10.
    assert run(10, 20, 21, 10, 11, 12) == ([10, 11, 12], 0, True)
    assert run(10, 11, 12, 10, 11, 12, 13) == ([10, 11, 12, 13], 2, False)
