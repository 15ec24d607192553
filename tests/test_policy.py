"""The pure failure rules, driven by hypothesis against an independent reference.

The reference below is written from Azure ML's evidence (tests/conformance/test_failure_accounting.py
cites each rule) and does not use tenantml.policy: it keeps the *latest status of every mini-batch*,
as Azure ML's runtime does, and judges the thresholds on that map after every attempt. The policy
instead keeps running counts (Tally) plus the mini-batches waiting for a retry (Pending); the two
must agree on every sequence of attempts.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tenantml.policy import (FinalResult, Outcome, Pending, Status, Step, Tally, Thresholds, breach, next_step,
                             verdict)

failures = [Outcome.RAISED, Outcome.WRONG_TYPE, Outcome.TIMEOUT, Outcome.CRASHED, Outcome.MEMORY]
successes = [Outcome.SUCCEEDED, Outcome.SHORT, Outcome.EMPTY]


def reference(plans: list[list[tuple[Outcome, int]]], items: list[int], max_retries: int, mbt: int, et: int,
              percent: float) -> tuple[str, int]:
    """(status, attempts made) by Azure ML's rules: latest status per mini-batch, checked after every attempt."""
    latest: dict[int, tuple[str, int]] = {}  # index -> ("ok" | "failed" | "retrying", failed items)
    queue = [(i, 1) for i in range(len(plans))]
    made = 0
    while queue:
        index, attempt = queue.pop(0)
        outcome, returned = plans[index][attempt - 1] if attempt <= len(plans[index]) else (Outcome.SUCCEEDED, items[index])
        made += 1
        if outcome in successes:
            latest[index] = ("ok", items[index] - min(returned, items[index]) if outcome is not Outcome.EMPTY else 0)
        elif attempt < max_retries + 1:
            latest[index] = ("retrying", items[index])
            queue.append((index, attempt + 1))
        else:
            latest[index] = ("failed", items[index])
        bad = [i for i, (state, _) in latest.items() if state != "ok"]
        bad_items = sum(n for _, n in latest.values())
        if ((mbt >= 0 and len(bad) > mbt) or (et >= 0 and bad_items > et)
                or (percent < 100 and 100.0 * len(bad) / len(plans) > percent)):
            return "Failed", made
    return "Completed", made


def policy(plans: list[list[tuple[Outcome, int]]], items: list[int], max_retries: int, mbt: int, et: int,
           percent: float) -> tuple[str, int]:
    th = Thresholds(max_retries, mbt, et, percent)
    tally, waiting = Tally(len(plans)), {}
    queue = [(i, 1) for i in range(len(plans))]
    made = 0
    while queue:
        index, attempt = queue.pop(0)
        outcome, returned = plans[index][attempt - 1] if attempt <= len(plans[index]) else (Outcome.SUCCEEDED, items[index])
        made += 1
        step = next_step(attempt, outcome, max_retries)
        if step is Step.RETRY:
            waiting[index] = items[index]
            queue.append((index, attempt + 1))
        else:
            waiting.pop(index, None)
            n = 0 if outcome is Outcome.EMPTY else items[index]
            ok = min(returned, n) if step is Step.SUCCEEDED else 0
            tally = tally.add(FinalResult(n, ok, step is Step.FAILED))
        if breach(th, tally, Pending(len(waiting), sum(waiting.values()))) is not None:
            return "Failed", made
    return verdict(th, tally).status.value, made


attempts = st.tuples(st.sampled_from(failures + successes), st.integers(0, 6))


@given(plans=st.lists(st.lists(attempts, max_size=4), min_size=1, max_size=8), data=st.data(),
       max_retries=st.integers(0, 3), mbt=st.integers(-1, 4), et=st.integers(-1, 12),
       percent=st.sampled_from([100.0, 60.0, 25.0, 0.0]))
def test_policy_agrees_with_the_latest_status_reference(plans, data, max_retries, mbt, et, percent):
    items = data.draw(st.lists(st.integers(1, 5), min_size=len(plans), max_size=len(plans)))
    assert policy(plans, items, max_retries, mbt, et, percent) == reference(plans, items, max_retries, mbt, et, percent)


@given(max_retries=st.integers(0, 6), tries=st.integers(1, 10))
def test_a_failing_mini_batch_gets_exactly_max_retries_plus_one_attempts(max_retries, tries):
    steps = [next_step(n, Outcome.RAISED, max_retries) for n in range(1, tries + 1)]
    first_final = next((n for n, s in enumerate(steps, 1) if s is not Step.RETRY), None)
    assert first_final == (max_retries + 1 if tries >= max_retries + 1 else None)


def test_an_incomplete_tally_is_never_completed():
    assert verdict(Thresholds(), Tally(3, processed=2)).status is Status.FAILED
    assert verdict(Thresholds(), Tally(0)).status is Status.COMPLETED
