"""The pure failure rules, driven directly by hypothesis."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tenantml.policy import (FinalResult, Outcome, Status, Step, Tally, Thresholds, breach, next_step,
                             percent_breach, verdict)

failures = st.sampled_from([Outcome.RAISED, Outcome.WRONG_TYPE, Outcome.TIMEOUT, Outcome.CRASHED, Outcome.MEMORY])
successes = st.sampled_from([Outcome.SUCCEEDED, Outcome.SHORT, Outcome.EMPTY])


@given(max_retries=st.integers(0, 6), outcomes=st.lists(failures, min_size=1, max_size=10))
def test_a_failing_mini_batch_gets_exactly_max_retries_plus_one_attempts(max_retries, outcomes):
    attempts = 0
    for outcome in outcomes:
        attempts += 1
        step = next_step(attempts, outcome, max_retries)
        if step is not Step.RETRY:
            break
    if len(outcomes) >= max_retries + 1:
        assert attempts == max_retries + 1 and step is Step.FAILED
    else:
        assert step is Step.RETRY


@given(attempt=st.integers(1, 10), outcome=successes, max_retries=st.integers(0, 5))
def test_any_success_including_a_short_return_is_final_and_not_retried(attempt, outcome, max_retries):
    assert next_step(attempt, outcome, max_retries) is Step.SUCCEEDED


results = st.builds(lambda items, ok, failed: FinalResult(items, 0 if failed else min(ok, items), failed),
                    st.integers(0, 20), st.integers(0, 25), st.booleans())


@given(st.lists(results, max_size=30), st.integers(-1, 10), st.integers(-1, 40))
def test_tally_counts_and_threshold_breach_follow_the_definitions(batch, mb_threshold, item_threshold):
    tally = Tally(len(batch))
    for r in batch:
        tally = tally.add(r)
    assert tally.processed == len(batch) and tally.complete
    assert tally.failed_mini_batches == sum(r.failed for r in batch)
    assert tally.items == sum(r.items for r in batch)
    assert tally.succeeded_items + tally.failed_items == tally.items
    th = Thresholds(2, mb_threshold, item_threshold)
    crossed = breach(th, tally)
    expect_mb = mb_threshold >= 0 and tally.failed_mini_batches > mb_threshold
    expect_items = item_threshold >= 0 and tally.failed_items > item_threshold
    assert (crossed is not None) == (expect_mb or expect_items)
    assert (verdict(th, tally).status is Status.FAILED) == (expect_mb or expect_items)


@given(total=st.integers(1, 50), failed=st.integers(0, 50), percent=st.floats(0, 100))
def test_allowed_failed_percent_is_judged_on_the_share_of_failed_mini_batches(total, failed, percent):
    failed = min(failed, total)
    tally = Tally(total, processed=total, failed_mini_batches=failed)
    crossed = percent_breach(Thresholds(allowed_failed_percent=percent), tally)
    assert (crossed is not None) == (100.0 * failed / total > percent and percent < 100)


def test_an_incomplete_tally_is_never_completed():
    assert verdict(Thresholds(), Tally(3, processed=2)).status is Status.FAILED
    assert verdict(Thresholds(), Tally(0)).status is Status.COMPLETED
