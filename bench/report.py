"""Targets checked against a result, and the result as a markdown table."""

from bench import quality, traffic_report
from bench.markdown import table, target
from bench.training import sizing_lines

# (target, stack level, engine batch or original design, required ratio)
ENGINE_TARGETS = ((32, 32, 0.85), (1, 1, 0.85))
ORIGINAL_TARGETS = ((8, 8, 10.0), (32, 8, 10.0))
TTFT_TARGET_MS = 100.0
STACK_RSS_TARGET_MB = 600.0
# Closed loop through nginx: 1 client (what llama-server gives one client here), 32 clients
# (the stack's JSON figure before the scheduler), and 32 clients' p50 against 1 client's.
CLOSED_LOOP_TOKENS_PER_S = ((1, 137.0), (32, 724.0))
CLOSED_LOOP_P50_TIMES = 2.0


def section_result(result: dict, name: str) -> dict | None:
    section = result["sections"].get(name, {})
    return section.get("result") if section.get("status") == "ok" else None


def level(rows: list[dict], key: str, value: int) -> dict | None:
    return next((row for row in rows if row.get(key) == value), None)


def stack_level(serving: dict | None, concurrency: int, mode: str = "stream") -> dict | None:
    """The stack's row for a level; targets are judged on streaming, as the page asks."""
    if not serving:
        return None
    rows = [row for row in serving["levels"] if row.get("mode", "stream") == mode]
    return level(rows, "concurrency", concurrency)


def serving_engine(engine: dict | None) -> dict | None:
    """The engine ceiling's figures for the engine the API serves with (llama.cpp); its top
    level holds CTranslate2's, the capacity reference."""
    return engine and engine.get("llama", engine)


def engine_targets(serving: dict | None, engine: dict | None) -> list[dict]:
    engine = serving_engine(engine)
    rows = []
    for stack_c, batch, ratio in ENGINE_TARGETS:
        name = f"c{stack_c} ≥ {ratio:.0%} of engine batch-{batch} tokens/s"
        stack_row = stack_level(serving, stack_c)
        engine_row = engine and level(engine["levels"], "batch", batch)
        if not (stack_row and engine_row):
            rows.append(target(name, "not measured", None))
            continue
        ceiling = engine_row["tokens_per_s"]
        share = stack_row["tokens_per_s"] / ceiling
        measured = f"{share:.0%} ({stack_row['tokens_per_s']:.0f} of {ceiling:.0f})"
        plain = stack_level(serving, stack_c, "json")
        note = f"plain JSON: {plain['tokens_per_s'] / ceiling:.0%}" if plain else ""
        rows.append(target(name, measured, share >= ratio, note))
    return rows


def latency_memory_targets(serving: dict | None) -> list[dict]:
    one = stack_level(serving, 1)
    if one and one["ttft_ms"]["p50"] is not None:
        ttft = one["ttft_ms"]["p50"]
        rows = [target("c1 time to first token ≤ 100 ms (p50)", f"{ttft:.0f} ms", ttft <= 100)]
    else:
        rows = [target("c1 time to first token ≤ 100 ms (p50)", "not measured", None)]
    if serving:
        peak = max(row["memory"]["total"]["rss_mb"] for row in serving["levels"])
        pss = max(row["memory"]["total"]["pss_mb"] for row in serving["levels"])
        measured = f"{peak:.0f} MB RSS ({pss:.0f} MB PSS)"
        note = f"model {serving['model']}"
        rows.append(target("whole stack ≤ 600 MB RSS", measured, peak <= STACK_RSS_TARGET_MB, note))
    else:
        rows.append(target("whole stack ≤ 600 MB RSS", "not measured", None))
    return rows


def closed_loop_targets(serving: dict | None) -> list[dict]:
    """Judged on plain JSON, as the figures they were set from; the streaming figure beside."""
    rows = []
    for clients, floor in CLOSED_LOOP_TOKENS_PER_S:
        name = f"closed loop c{clients} ≥ {floor:.0f} tokens/s"
        plain, stream = stack_level(serving, clients, "json"), stack_level(serving, clients)
        if not plain:
            rows.append(target(name, "not measured", None))
            continue
        note = f"streaming: {stream['tokens_per_s']:.0f}" if stream else ""
        measured = f"{plain['tokens_per_s']:.0f} tokens/s"
        rows.append(target(name, measured, plain["tokens_per_s"] >= floor, note))
    one, many = stack_level(serving, 1, "json"), stack_level(serving, 32, "json")
    name = f"closed loop c32 p50 latency ≤ {CLOSED_LOOP_P50_TIMES:g}× c1"
    if one and many and one["latency_ms"]["p50"] and many["latency_ms"]["p50"]:
        times = many["latency_ms"]["p50"] / one["latency_ms"]["p50"]
        measured = (
            f"{times:.1f}× ({many['latency_ms']['p50']:.0f} vs {one['latency_ms']['p50']:.0f} ms)"
        )
        rows.append(target(name, measured, times <= CLOSED_LOOP_P50_TIMES))
    else:
        rows.append(target(name, "not measured", None))
    return rows


def batch1_ms_per_token(engine: dict | None) -> float | None:
    """The serving engine's time per token with one sequence (the engine ceiling's batch 1)."""
    engine = serving_engine(engine)
    row = engine and level(engine["levels"], "batch", 1)
    return 1000 / row["tokens_per_s"] if row and row["tokens_per_s"] else None


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
    engine = section_result(result, "engine_ceiling")
    originals = section_result(result, "original_designs")
    return [
        *engine_targets(serving, engine),
        *latency_memory_targets(serving),
        *closed_loop_targets(serving),
        *traffic_report.open_loop_targets(
            section_result(result, "open_loop"), batch1_ms_per_token(engine)
        ),
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


def serving_lines(serving: dict) -> list[str]:
    rows = [
        [
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
        for row in serving["levels"]
    ]
    header = ["mode", "clients", "tokens/s", "req/s", "p50 ms", "p95 ms", "p99 ms", "TTFT p50 ms"]
    header += ["TTFT p95 ms", "worker MB", "nginx MB", "stack MB", "errors"]
    return [f"### Serving: nginx → uWSGI → API ({serving['model']})", "", *table(header, rows)]


def engine_lines(engine: dict) -> list[str]:
    """The serving engine's rows (llama.cpp), then the CTranslate2 reference's."""
    reference = (
        f"CTranslate2 {engine['compute_type']} generate_batch "
        f"({engine['inter_threads']}×{engine['intra_threads'] or 'auto'} threads)"
    )
    engines = [(reference, engine)]
    if "llama" in engine:
        engines.insert(
            0, (f"llama.cpp step API ({engine['llama']['threads']} threads)", engine["llama"])
        )
    rows = [
        [name, row["batch"], row["tokens_per_s"], row["ms_per_call"]]
        for name, figures in engines
        for row in figures["levels"]
    ]
    header = ["engine", "batch", "tokens/s", "ms per call"]
    return ["### Engine ceiling: raw tokens/s, no HTTP, no API", "", *table(header, rows)]


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
        f"### API without HTTP vs raw engine (worker {api['worker_rss_mb']:.0f} MB RSS, "
        f"median of {repeats} back-to-back runs)"
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
