"""model/lr_schedule.py: the rate of each step, a pure function of the run's progress."""

import pytest

from model.lr_schedule import learning_rate, progress


def test_constant_is_the_peak_throughout():
    assert {learning_rate(1e-3, "constant", p) for p in (None, 0.0, 0.5, 1.0)} == {1e-3}


def test_cosine_warms_up_then_decays_to_a_tenth():
    rates = [learning_rate(1e-3, "cosine", step / 100) for step in range(101)]
    assert rates[0] == pytest.approx(1e-4)
    assert rates[5] == pytest.approx(1e-3) == max(rates)
    assert rates[:6] == sorted(rates[:6]) and rates[5:] == sorted(rates[5:], reverse=True)
    assert learning_rate(1e-3, "cosine", 0.525) == pytest.approx(0.55e-3)
    assert rates[100] == pytest.approx(1e-4)


def test_cosine_without_an_end_keeps_the_peak():
    assert learning_rate(1e-3, "cosine", None) == 1e-3


def test_progress_follows_the_limit_nearest_its_end():
    assert progress(step=10, total_steps=100, elapsed_s=30, budget_s=60) == 0.5
    assert progress(step=80, total_steps=100, elapsed_s=30, budget_s=60) == 0.8
    assert progress(step=10, total_steps=None, elapsed_s=90, budget_s=60) == 1.0
    assert progress(step=10, total_steps=None, elapsed_s=30, budget_s=None) is None


def test_an_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="linear"):
        learning_rate(1e-3, "linear", 0.5)
