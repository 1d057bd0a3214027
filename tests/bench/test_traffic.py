"""The open-loop schedule: seeded, Poisson, mixed as asked, the same requests at every rate."""

import dataclasses
import statistics

import pytest

from bench import traffic


def test_the_schedule_is_a_pure_function_of_its_seed():
    first = traffic.schedule(traffic.FULL_MIX, rate_per_s=5.0, duration_s=60.0)
    again = traffic.schedule(traffic.FULL_MIX, rate_per_s=5.0, duration_s=60.0)
    other = traffic.schedule(traffic.FULL_MIX, rate_per_s=5.0, duration_s=60.0, seed=1)
    assert first == again
    assert first != other


def test_a_higher_rate_sends_the_same_requests_closer_together():
    slow = traffic.schedule(traffic.FULL_MIX, rate_per_s=2.0, duration_s=100.0)
    fast = traffic.schedule(traffic.FULL_MIX, rate_per_s=4.0, duration_s=100.0)
    assert len(fast) > len(slow)
    for a, b in zip(slow, fast, strict=False):
        assert (a.prompt, a.length, a.seed, a.top_k) == (b.prompt, b.length, b.seed, b.top_k)
        assert b.at == pytest.approx(a.at / 2, abs=1e-3)


def test_arrivals_are_poisson_at_the_asked_rate():
    requests = traffic.schedule(traffic.FULL_MIX, rate_per_s=10.0, duration_s=400.0)
    gaps = [b.at - a.at for a, b in zip(requests, requests[1:], strict=False)]
    # Exponential gaps: mean 1/rate and a standard deviation equal to the mean.
    assert statistics.mean(gaps) == pytest.approx(0.1, rel=0.05)
    assert statistics.stdev(gaps) == pytest.approx(0.1, rel=0.1)
    assert all(0 <= r.at < 400.0 for r in requests)
    assert [r.at for r in requests] == sorted(r.at for r in requests)


def test_every_setting_of_the_mix_is_drawn_and_one_in_ten_is_seeded():
    mix = traffic.FULL_MIX
    requests = traffic.schedule(mix, rate_per_s=10.0, duration_s=200.0)
    assert {r.temperature for r in requests} == set(mix.temperatures)
    assert {r.top_k for r in requests} == set(mix.top_ks)
    assert {r.top_p for r in requests} == set(mix.top_ps)
    lengths = [r.length for r in requests]
    assert min(lengths) >= 16 and max(lengths) <= 256
    assert statistics.mean(lengths) == pytest.approx(mix.mean_length, rel=0.05)
    words = [len(r.prompt.split()) for r in requests]
    assert min(words) == 4 and max(words) == 64
    seeded = sum(r.seed is not None for r in requests) / len(requests)
    assert seeded == pytest.approx(0.1, abs=0.03)


def test_a_schedule_at_demand_asks_for_its_demand_exactly():
    requests = traffic.schedule(traffic.FULL_MIX, rate_per_s=1.3, duration_s=40.0)
    scaled, factor = traffic.at_demand(requests, 180.0, 40.0)
    assert factor != pytest.approx(1.0, abs=1e-3)  # this draw asks for more or less than 180/s
    assert sum(r.length for r in scaled) / (40.0 * factor) == pytest.approx(180.0)
    for before, after in zip(requests, scaled, strict=True):
        assert dataclasses.replace(before, at=after.at) == after
        assert after.at == pytest.approx(before.at * factor, abs=1e-3)


def test_rate_for_divides_demand_by_the_mean_length():
    assert traffic.rate_for(680.0, traffic.FULL_MIX) == pytest.approx(5.0)


@pytest.mark.parametrize(("rate", "duration"), [(0, 10), (-1, 10), (1, 0)])
def test_a_schedule_needs_a_positive_rate_and_window(rate, duration):
    with pytest.raises(ValueError, match="positive"):
        traffic.schedule(traffic.FULL_MIX, rate_per_s=rate, duration_s=duration)
