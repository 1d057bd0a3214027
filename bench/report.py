"""Targets checked against a result, and the result as a markdown table.

The stack's targets are judged on the served engine (bench.engines: the section's top-level
figures), each against that engine's own ceiling; the other engines' figures stand beside.
"""

from bench import engines, quality, traffic_report
from bench.markdown import table, target
from bench.training import sizing_lines

# Engine ceiling, no HTTP: (batch, engine, against, required ratio of tokens/s).
ENGINE_CEILING_TARGETS = (
    (32, "onnx", "llama", 2.0),
    (32, "onnx", "ctranslate2", 1.0),
    (1, "onnx", "llama", 1.1),
)
# Closed loop through nginx: (clients, mode, share of the served engine's ceiling at the same
# batch); streaming carries the time to first token, plain JSON what most API clients ask.
CLOSED_LOOP_SHARES = ((32, "json", 0.85), (32, "stream", 0.85), (1, "stream", 0.85))
TTFT_TARGET_MS = 50.0  # 1 client, streaming, p50
# The whole stack (nginx + uWSGI) at 32 clients, default KV budget (reserved at start).
STACK_RSS_TARGET_MB = 1000.0
STACK_RSS_CLIENTS = 32
ORIGINAL_TARGETS = ((8, 8, 10.0), (32, 8, 10.0))


def section_result(result: dict, name: str) -> dict | None:
    section = result["sections"].get(name, {})
    return section.get("result") if section.get("status") == "ok" else None


def level(rows: list[dict], key: str, value: int) -> dict | None:
    return next((row for row in rows if row.get(key) == value), None)


def stack_level(serving: dict | None, concurrency: int, mode: str = "stream") -> dict | None:
    """The stack's row for a level (of whichever engine's figures `serving` holds)."""
    if not serving:
        return None
    rows = [row for row in serving["levels"] if row.get("mode", "stream") == mode]
    return level(rows, "concurrency", concurrency)


def ceiling_engines(ceiling: dict) -> dict[str, dict]:
    """Each engine's ceiling figures by name. Results before engines were named kept
    CTranslate2's on top and llama.cpp's (then the only one served) under "llama"."""
    if "engine" in ceiling:
        return engines.all_figures(ceiling)
    if "llama" in ceiling:
        return {"llama": ceiling["llama"], engines.REFERENCE: ceiling}
    return {engines.REFERENCE: ceiling}


def ceiling_of(ceiling: dict | None, name: str | None) -> dict | None:
    """One engine's ceiling figures; name None: the engine served when it was measured."""
    if not ceiling:
        return None
    return ceiling_engines(ceiling).get(name or ceiling.get("engine", "llama"))


def ceiling_tokens_per_s(ceiling: dict | None, name: str | None, batch: int) -> float | None:
    figures = ceiling_of(ceiling, name)
    row = figures and level(figures["levels"], "batch", batch)
    return row["tokens_per_s"] if row else None


def engine_ceiling_targets(ceiling: dict | None) -> list[dict]:
    rows = []
    for batch, candidate, other, ratio in ENGINE_CEILING_TARGETS:
        name = (
            f"engine ceiling batch {batch}: {engines.label(candidate)} ≥ {ratio:g}× "
            f"{engines.label(other)}"
        )
        mine = ceiling_tokens_per_s(ceiling, candidate, batch)
        theirs = ceiling_tokens_per_s(ceiling, other, batch)
        if not (mine and theirs):
            rows.append(target(name, "not measured", None))
            continue
        measured = f"{mine / theirs:.2f}× ({mine:.0f} vs {theirs:.0f} tokens/s)"
        rows.append(target(name, measured, mine / theirs >= ratio))
    return rows


def other_shares(serving: dict, ceiling: dict | None, clients: int, mode: str) -> str:
    """The other engines' closed-loop share of their own ceilings, for the target's note."""
    notes = []
    for name, figures in serving.get("others", {}).items():
        row, top = stack_level(figures, clients, mode), ceiling_tokens_per_s(ceiling, name, clients)
        if row and top:
            notes.append(f"{name}: {row['tokens_per_s'] / top:.0%} of {top:.0f}")
    return "; ".join(notes)


def closed_loop_targets(serving: dict | None, ceiling: dict | None) -> list[dict]:
    """Each against the served engine's ceiling at a batch of as many sequences as clients."""
    served = serving and serving.get("engine")
    rows = []
    for clients, mode, share in CLOSED_LOOP_SHARES:
        name = f"closed loop c{clients} {mode} ≥ {share:.0%} of engine batch-{clients} tokens/s"
        row = stack_level(serving, clients, mode)
        top = ceiling_tokens_per_s(ceiling, served, clients)
        if not (row and top):
            rows.append(target(name, "not measured", None))
            continue
        got = row["tokens_per_s"] / top
        measured = f"{got:.1%} ({row['tokens_per_s']:.0f} of {top:.0f}, {served or 'served'})"
        note = other_shares(serving, ceiling, clients, mode)
        rows.append(target(name, measured, got >= share, note))
    return rows


def ttft_target(serving: dict | None) -> dict:
    name = f"closed loop c1 time to first token p50 ≤ {TTFT_TARGET_MS:g} ms"
    one = stack_level(serving, 1)
    if not (one and one["ttft_ms"]["p50"] is not None):
        return target(name, "not measured", None)
    ttft = one["ttft_ms"]["p50"]
    return target(name, f"{ttft:.0f} ms", ttft <= TTFT_TARGET_MS)


def stack_peak(figures: dict, clients: int) -> tuple[float, float] | None:
    """Highest whole-stack (RSS, PSS) over the levels with `clients` clients, both modes."""
    rows = [row for row in figures["levels"] if row["concurrency"] == clients]
    if not rows:
        return None
    totals = [row["memory"]["total"] for row in rows]
    return max(t["rss_mb"] for t in totals), max(t["pss_mb"] for t in totals)


def memory_target(serving: dict | None) -> dict:
    name = f"whole stack at {STACK_RSS_CLIENTS} active sequences ≤ {STACK_RSS_TARGET_MB:g} MB RSS"
    peak = serving and stack_peak(serving, STACK_RSS_CLIENTS)
    if not peak:
        return target(name, "not measured", None)
    others = [
        f"{name}: {stack_peak(figures, STACK_RSS_CLIENTS)[0]:.0f} MB"
        for name, figures in serving.get("others", {}).items()
        if stack_peak(figures, STACK_RSS_CLIENTS)
    ]
    measured = f"{peak[0]:.0f} MB RSS ({peak[1]:.0f} MB PSS, {serving.get('engine', 'served')})"
    note = "; ".join([f"model {serving['model']}", *others])
    return target(name, measured, peak[0] <= STACK_RSS_TARGET_MB, note)


def batch1_ms_per_token(ceiling: dict | None, name: str | None) -> float | None:
    """An engine's time per token with one sequence (its engine ceiling's batch 1)."""
    tokens_per_s = ceiling_tokens_per_s(ceiling, name, 1)
    return 1000 / tokens_per_s if tokens_per_s else None


def original_targets(serving: dict | None, originals: dict | None) -> list[dict]:
    rows = []
    for design in ("reload_per_request", "load_once"):
        for stack_c, original_c, ratio in ORIGINAL_TARGETS:
            name = f"c{stack_c} ≥ {ratio:.0f}× {design} at c{original_c}"
            stack_row = stack_level(serving, stack_c)
            rows_of_design = originals[design]["levels"] if originals else []
            original_row = level(rows_of_design, "concurrency", original_c)
            if not (stack_row and original_row and original_row["tokens_per_s"] > 0):
                rows.append(target(name, "not measured", None))
                continue
            times = stack_row["tokens_per_s"] / original_row["tokens_per_s"]
            measured = (
                f"{times:.1f}× ({stack_row['tokens_per_s']:.0f} vs "
                f"{original_row['tokens_per_s']:.1f} tokens/s)"
            )
            rows.append(target(name, measured, times >= ratio))
    return rows


def prepare_targets(prepare: dict | None) -> list[dict]:
    """The prepare stage judges its own targets (bench/prepare.py); they join the table."""
    if not prepare:
        return []
    speed = f"{prepare['mb_per_s']:g} MB/s"
    memory = f"{prepare['peak_rss_mb']:g} MB peak RSS"
    note = f"{prepare['size_mb']:g} MB corpus"
    return [
        target(f"prepare {name}", speed if "MB/s" in name else memory, bool(passed), note)
        for name, passed in prepare.get("targets", {}).items()
    ]


def api_ceiling_targets(api: dict | None) -> list[dict]:
    """The API-without-HTTP targets that bench/api_ceiling.py measures."""
    if not api:
        return []
    share = api["targets"]["api_share_of_raw_min"]
    rows = [
        target(
            f"API without HTTP ≥ {share:.0%} of raw engine, batch {row['batch']}",
            f"{row['api_share_of_raw']:.0%} ({row['api_tokens_per_s']:.0f} of "
            f"{row['raw_tokens_per_s']:.0f})",
            row["api_share_of_raw"] >= share,
        )
        for row in api["levels"]
    ]
    limit = api["targets"]["worker_rss_mb_max"]
    rss = api["worker_rss_mb"]
    rows.append(target(f"API worker < {limit} MB RSS", f"{rss:.0f} MB", rss < limit))
    return rows


def evaluate_targets(result: dict) -> list[dict]:
    serving = section_result(result, "serving")
    ceiling = section_result(result, "engine_ceiling")
    originals = section_result(result, "original_designs")
    open_loop = section_result(result, "open_loop")
    served = open_loop and open_loop["ghostwriter"].get("engine")
    return [
        *engine_ceiling_targets(ceiling),
        *closed_loop_targets(serving, ceiling),
        ttft_target(serving),
        memory_target(serving),
        *traffic_report.open_loop_targets(open_loop, batch1_ms_per_token(ceiling, served)),
        *traffic_report.soak_targets(section_result(result, "soak")),
        *original_targets(serving, originals),
        *foreign_targets(api_ceiling_targets, section_result(result, "api_ceiling")),
        *foreign_targets(prepare_targets, section_result(result, "prepare")),
        *foreign_targets(quality.targets, section_result(result, "quality")),
    ]


def foreign_targets(judge, figures: dict | None) -> list[dict]:
    """Other stages' entries own their result's shape: if it changed, say so, don't crash."""
    try:
        return judge(figures)
    except (KeyError, TypeError, ValueError) as error:
        return [target(f"{judge.__name__}", f"unreadable result ({error!r})", None)]


def serving_row(engine: str, row: dict) -> list:
    return [
        engine,
        row.get("mode", "stream"),
        row["concurrency"],
        row["tokens_per_s"],
        row["requests_per_s"],
        row["latency_ms"]["p50"],
        row["latency_ms"]["p95"],
        row["latency_ms"]["p99"],
        row["ttft_ms"]["p50"],
        row["ttft_ms"]["p95"],
        row["memory"]["worker"]["rss_mb"],
        row["memory"]["nginx"]["rss_mb"],
        row["memory"]["total"]["rss_mb"],
        row["errors"],
    ]


def serving_lines(serving: dict) -> list[str]:
    """Every engine's levels, the served engine's first."""
    rows = [
        serving_row(engine, row)
        for engine, figures in engines.all_figures(serving).items()
        for row in figures["levels"]
    ]
    header = ["engine", "mode", "clients", "tokens/s", "req/s", "p50 ms", "p95 ms", "p99 ms"]
    header += ["TTFT p50 ms", "TTFT p95 ms", "worker MB", "nginx MB", "stack MB", "errors"]
    title = f"### Serving: nginx → uWSGI → API ({serving['model']})"
    note = (
        f"(served engine: {serving.get('engine', 'served')}; the others beside it{took(serving)})"
    )
    return [title, "", note, "", *table(header, rows)]


def took(section: dict) -> str:
    seconds = engines.timings(section)
    return f"; {seconds}" if seconds else ""


def engine_name(name: str, figures: dict) -> str:
    if name == engines.REFERENCE:
        threads = f"{figures['inter_threads']}×{figures['intra_threads'] or 'auto'} threads"
        return f"CTranslate2 {figures['compute_type']} generate_batch ({threads})"
    kv = f", {figures['kv_type']} KV" if figures.get("kv_type") else ""
    return f"{engines.label(name)} step API ({figures['threads']} threads{kv})"


def engine_lines(ceiling: dict) -> list[str]:
    """Each slot engine's rows, the served one first, then the CTranslate2 reference's."""
    by_engine = ceiling_engines(ceiling)
    order = sorted(by_engine, key=lambda name: name == engines.REFERENCE)
    rows = [
        [engine_name(name, by_engine[name]), row["batch"], row["tokens_per_s"], row["ms_per_call"]]
        for name in order
        for row in by_engine[name]["levels"]
    ]
    header = ["engine", "batch", "tokens/s", "ms per call"]
    title = "### Engine ceiling: raw tokens/s, no HTTP, no API"
    note = f"(served engine: {ceiling.get('engine', 'llama')}{took(ceiling)})"
    return [title, "", note, "", *table(header, rows)]


def originals_lines(originals: dict) -> list[str]:
    rows = []
    for design in ("reload_per_request", "load_once"):
        for row in originals[design]["levels"]:
            rows.append(
                [
                    design,
                    row["concurrency"],
                    row["tokens_per_s"],
                    row["requests_per_s"],
                    row["latency_ms"]["p50"],
                    row["completed"],
                    row["memory"]["rss_mb"],
                ]
            )
    header = ["design", "clients", "tokens/s", "req/s", "p50 ms", "completed", "peak MB"]
    title = (
        f"### Original designs: gpt-2-simple under uWSGI (worker processes: "
        f"{originals['processes']}, "
        f"{originals['duration_s']:g} s per level)"
    )
    return [title, "", *table(header, rows)]


def api_ceiling_lines(api: dict) -> list[str]:
    rows = [
        [r["batch"], r["raw_tokens_per_s"], r["api_tokens_per_s"], f"{r['api_share_of_raw']:.0%}"]
        for r in api["levels"]
    ]
    repeats = api.get("pairs") or api.get("rounds")
    title = (
        f"### API without HTTP vs raw engine ({api.get('engine', 'llama')}, worker "
        f"{api['worker_rss_mb']:.0f} MB RSS, median of {repeats} back-to-back runs)"
    )
    return [title, "", *table(["batch", "raw tokens/s", "API tokens/s", "API share"], rows)]


def prepare_lines(prepare: dict) -> list[str]:
    rows = [[prepare["size_mb"], prepare["seconds"], prepare["mb_per_s"], prepare["peak_rss_mb"]]]
    header = ["corpus MB", "seconds", "MB/s", "peak RSS MB"]
    return ["### Prepare: `python -m corpus prepare`", "", *table(header, rows)]


def training_lines(training: dict) -> list[str]:
    rows = []
    for case, figures in training.items():
        if not isinstance(figures, dict) or "best_step" in figures:  # sizing_lines shows those
            continue
        if "tokens_per_s" not in figures:
            rows.append([case, "–", "–", "–", "–", ", ".join(map(str, figures.values()))])
            continue
        shape = figures["hparams"]
        rows.append(
            [
                case,
                f"{shape['n_layer']}×{shape['n_embd']}, {shape['n_vocab']} ids, "
                f"ctx {shape['n_ctx']}",
                figures["batch_size"],
                figures["tokens_per_s"],
                figures["seconds_per_step"],
                "",
            ]
        )
    header = ["model", "shape", "batch", "tokens/s", "s per step", "note"]
    lines = ["### Training: `python -m model finetune`", "", *table(header, rows)]
    return lines + sizing_lines(training)


def flat(values: dict, prefix: str = "") -> list[list]:
    """Scalar entries of a nested dict as [dotted key, value] rows."""
    rows = []
    for key, value in values.items():
        if isinstance(value, dict):
            rows += flat(value, f"{prefix}{key}.")
        elif isinstance(value, int | float | str | bool) or value is None:
            rows.append([f"{prefix}{key}", value])
    return rows


def target_lines(targets: list[dict]) -> list[str]:
    verdict = {True: "pass", False: "**miss**", None: "–"}
    rows = [[t["target"], t["measured"], verdict[t["passed"]], t["note"]] for t in targets]
    return ["### Targets", "", *table(["target", "measured", "result", "note"], rows)]


SECTION_LINES = {
    "serving": serving_lines,
    "engine_ceiling": engine_lines,
    "original_designs": originals_lines,
    "api_ceiling": api_ceiling_lines,
    "prepare": prepare_lines,
    "training": training_lines,
    "quality": quality.report_lines,
    "open_loop": traffic_report.open_loop_lines,
    "soak": traffic_report.soak_lines,
}


def section_lines(name: str, figures: dict) -> list[str]:
    """The section's own table, or every scalar figure when it has none (or its shape moved)."""
    try:
        return SECTION_LINES[name](figures)
    except (KeyError, TypeError, ValueError):
        return [f"### {name}", "", *table(["figure", "value"], flat(figures))]


def markdown(result: dict) -> str:
    machine = result["machine"]
    lines = [
        f"## Benchmarks ({'smoke' if result['smoke'] else 'full'} run, {result['started_at']})",
        "",
        f"Machine: {machine['cpu_model']}, {machine['cpu_count']} CPUs, "
        f"{machine['memory_gb']:.0f} GB RAM; load average at start {machine['load_at_start']}. "
        f"Workload: {result['workload']['prompt_tokens']}-token prompt, "
        f"{result['workload']['new_tokens']} new tokens, top-k {result['workload']['top_k']}.",
        "",
        *target_lines(result["targets"]),
    ]
    for name, section in result["sections"].items():
        lines.append("")
        if section["status"] != "ok":
            detail = section.get("reason") or section.get("error", "")
            last = next((line for line in reversed(detail.splitlines()) if line.strip()), "")
            lines.append(f"### {name}: {section['status']} ({last.strip()[:200]})")
        else:
            lines += section_lines(name, section["result"])
        if "load_average" in section:
            load = section["load_average"]
            span = f"load average {load['before']} → {load['after']}"
            lines += ["", f"({section['seconds']:g} s; {span})"]
    return "\n".join(lines) + "\n"
