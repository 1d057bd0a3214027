"""Targets and tables of the open-loop benchmark and the soak.

The open loop's targets are judged on the served engine's stack ("ghostwriter", bench.engines'
shape); the stack on the other engines and llama-server stand beside it in the table.
"""

from bench import engines
from bench.markdown import table, target

# (share of capacity, TTFT p99 limit in ms); at both rates nothing may be rejected.
OPEN_LOOP_TTFT_P99_MS = ((0.5, 300.0), (0.75, 1000.0))
TPOT_RATE = 0.5
TPOT_TIMES_BATCH1 = 5.0  # × the served engine's time per token alone (its batch-1 ceiling)
SEEDED_TPOT_TIMES_UNSEEDED = 1.1
# At every rate, served tokens/s ≥ the smaller of these: llama-server's × LLAMA_SERVER_TIMES,
# and the demand × DEMAND_SHARE (past what is asked, serving more is not possible).
LLAMA_SERVER_TIMES = 2.0
DEMAND_SHARE = 0.95
SOAK_GROWTH_PCT = 2.0


def at_fraction(server: dict, fraction: float) -> dict | None:
    return next((row for row in server["rates"] if row["fraction"] == fraction), None)


def rate_targets(ours: dict, batch1_ms: float | None) -> list[dict]:
    rows = []
    for fraction, ttft_limit in OPEN_LOOP_TTFT_P99_MS:
        label = f"open loop {fraction:.0%} of capacity"
        row = at_fraction(ours, fraction)
        rejected = f"{row['rejected']} of {row['requests']}"
        rows.append(target(f"{label}: 0 rejections", rejected, row["rejected"] == 0))
        ttft = row["ttft_ms"]["p99"]
        passed = ttft is not None and ttft <= ttft_limit
        measured = "no answer" if ttft is None else f"{ttft:.0f} ms"
        rows.append(target(f"{label}: TTFT p99 ≤ {ttft_limit:.0f} ms", measured, passed))
    row = at_fraction(ours, TPOT_RATE)
    name = f"open loop {TPOT_RATE:.0%}: TPOT p50 ≤ {TPOT_TIMES_BATCH1:g}× engine batch-1 time"
    tpot = row["tpot_ms"]["p50"]
    if tpot is None or batch1_ms is None:
        rows.append(target(name, "not measured", None))
    else:
        limit = TPOT_TIMES_BATCH1 * batch1_ms
        rows.append(target(name, f"{tpot:.1f} ms (limit {limit:.1f} ms)", tpot <= limit))
    return rows


def seeded_target(ours: dict) -> dict:
    name = f"seeded TPOT p50 ≤ {SEEDED_TPOT_TIMES_UNSEEDED:g}× unseeded (all rates)"
    pooled = ours["tpot_ms_pooled"]
    seeded, unseeded = pooled["seeded"]["p50"], pooled["unseeded"]["p50"]
    if seeded is None or unseeded is None:
        return target(name, "not measured", None)
    # A tiny model's whole answer can arrive in one chunk: 0 ms per token, no ratio to show.
    ratio = f"{seeded / unseeded:.2f}× " if unseeded else ""
    measured = f"{ratio}({seeded:.1f} vs {unseeded:.1f} ms)"
    note = f"{pooled['seeded']['count']} seeded requests"
    return target(name, measured, seeded <= SEEDED_TPOT_TIMES_UNSEEDED * unseeded, note)


def others_at(ours: dict, fraction: float) -> str:
    """The other engines' served tokens/s at a rate, for a target's note."""
    notes = []
    for name, figures in ours.get("others", {}).items():
        row = at_fraction(figures, fraction)
        if row:
            notes.append(f"{name}: {row['tokens_per_s']:.0f}")
    return "; ".join(notes)


def served_tokens_targets(ours: dict, theirs: dict) -> list[dict]:
    if "skipped" in theirs:
        return [target("open loop vs llama-server", "skipped", None, theirs["skipped"][:120])]
    rows = []
    for mine, other in zip(ours["rates"], theirs["rates"], strict=True):
        name = (
            f"open loop {mine['fraction']:.0%}: tokens/s ≥ min({LLAMA_SERVER_TIMES:g}× "
            f"llama-server, {DEMAND_SHARE:.0%} of demand)"
        )
        doubled = LLAMA_SERVER_TIMES * other["tokens_per_s"]
        floor = min(doubled, DEMAND_SHARE * mine["demand_tokens_per_s"])
        measured = (
            f"{mine['tokens_per_s']:.0f} (floor {floor:.0f}: llama-server "
            f"{other['tokens_per_s']:.0f}, demand {mine['demand_tokens_per_s']:.0f})"
        )
        rows.append(
            target(name, measured, mine["tokens_per_s"] >= floor, others_at(ours, mine["fraction"]))
        )
    return rows


def open_loop_targets(open_loop: dict | None, batch1_ms: float | None) -> list[dict]:
    """batch1_ms: the served engine's time per token alone (its engine ceiling's batch 1)."""
    if not open_loop:
        return [target("open loop", "not measured", None)]
    ours = open_loop["ghostwriter"]
    return [
        *rate_targets(ours, batch1_ms),
        seeded_target(ours),
        *served_tokens_targets(ours, open_loop["llama_server"]),
    ]


def soak_targets(soak: dict | None) -> list[dict]:
    name = f"soak: worker RSS growth < {SOAK_GROWTH_PCT:g} % over the last requests"
    if not soak:
        return [target(name, "not measured", None)]
    growth = soak["growth_pct_last"]
    measured = f"{growth:+.2f} % over the last {soak['growth_window_requests']}"
    note = f"{soak['growth_pct_all']:+.2f} % over all {soak['plan']['requests']}"
    return [target(name, measured, growth < SOAK_GROWTH_PCT, note)]


def rate_row(server: str, row: dict) -> list:
    memory = row.get("memory", {})
    peak = memory.get("worker", memory.get("server", {})).get("rss_mb")
    return [
        server,
        f"{row['fraction']:.0%}",
        row["rate_per_s"],
        row["demand_tokens_per_s"],
        row["tokens_per_s"],
        f"{row['completed']}/{row['requests']}",
        row["rejected"],
        row["ttft_ms"]["p50"],
        row["ttft_ms"]["p99"],
        row["tpot_ms"]["p50"],
        row["tpot_ms"]["p99"],
        row["tpot_ms_seeded"]["p50"],
        row["tpot_ms_unseeded"]["p50"],
        peak,
    ]


def window(open_loop: dict) -> str:
    if open_loop.get("requests_per_rate"):
        return f"{open_loop['requests_per_rate']} requests"
    return f"{open_loop['duration_s']:g} s"


def open_loop_lines(open_loop: dict) -> list[str]:
    rows = [
        rate_row(f"ghostwriter ({engine})", row)
        for engine, figures in engines.all_figures(open_loop["ghostwriter"]).items()
        for row in figures["rates"]
    ]
    theirs = open_loop["llama_server"]
    rows += [rate_row("llama-server", row) for row in theirs.get("rates", [])]
    header = ["server", "load", "req/s", "demand tok/s", "served tok/s", "answered"]
    header += ["rejected", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99"]
    header += ["TPOT seeded p50", "TPOT unseeded p50", "peak MB"]
    mix = open_loop["mix"]
    title = (
        f"### Open loop: Poisson arrivals, mixed traffic ({open_loop['model']}; served engine "
        f"{open_loop['ghostwriter'].get('engine', '–')}; capacity (CTranslate2 batch 32) "
        f"{open_loop['capacity_tokens_per_s']:.0f} tokens/s; {window(open_loop)} per rate; "
        f"lengths {mix['lengths'][0]}–{mix['lengths'][1]}; times in ms)"
    )
    lines = [title, "", *table(header, rows)]
    seconds = engines.timings(open_loop["ghostwriter"])
    if seconds:
        lines += ["", f"(ghostwriter's stack on each engine: {seconds})"]
    if "skipped" in theirs:
        lines += ["", f"llama-server skipped: {theirs['skipped']}"]
    elif theirs.get("build_s"):
        lines += ["", f"(llama-server built in {theirs['build_s']:.0f} s this run)"]
    return lines


def soak_lines(soak: dict) -> list[str]:
    series = soak["rss_mb"]
    row = [
        soak["plan"]["requests"],
        soak["seconds"],
        soak["requests_per_s"],
        series[0][1],
        series[-1][1],
        f"{soak['growth_pct_last']:+.2f} %",
        f"{soak['growth_pct_all']:+.2f} %",
        sum(soak["errors"].values()),
    ]
    header = ["requests", "seconds", "req/s", "RSS after warm-up MB", "RSS at end MB"]
    header += [f"growth last {soak['growth_window_requests']}", "growth all", "errors"]
    return ["### Soak: worker memory across mixed requests", "", *table(header, [row])]
