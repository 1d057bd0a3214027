"""Which engines the benchmarks compare, and where each one's figures sit in a result.

One shape wherever engines are compared (the engine ceiling's result, the closed loop's, the
open loop's "ghostwriter"): the SERVED engine's figures where a single engine's always were
(`levels`, `rates`, …), `"engine"` naming it, and every other engine's figures, in the same
shape, under `"others": {name: figures}` (the engine ceiling's CTranslate2 reference among
them). The served engine is the one the API runs (`serving.config.load().engine`: the
product's default, GHOST_ENGINE overrides): the targets are judged on it, the others are shown
beside.
"""

import time

# The slot engines the scheduler can step, both measured in every comparing section.
STEP_ENGINES = ("onnx", "llama")
REFERENCE = "ctranslate2"  # the engine ceiling's capacity reference (generate_batch, no steps)
LABELS = {"onnx": "ONNX Runtime", "llama": "llama.cpp", REFERENCE: "CTranslate2"}


def served() -> str:
    from serving import config

    return config.load().engine


def in_turn(measure, names) -> dict[str, dict]:
    """{name: measure(name)}, one engine after another, each with the seconds it took (a
    section's time grows with every engine it compares)."""
    by_engine = {}
    for name in names:
        started = time.monotonic()
        by_engine[name] = {**measure(name), "seconds": round(time.monotonic() - started, 1)}
    return by_engine


def side_by_side(by_engine: dict[str, dict], served_engine: str) -> dict:
    """The served engine's figures with "engine" naming it and the rest under "others"."""
    if served_engine not in by_engine:
        measured = ", ".join(by_engine)
        raise ValueError(
            f"the served engine {served_engine!r} is not among those measured ({measured}): "
            f"set GHOST_ENGINE to one of {', '.join(STEP_ENGINES)} for make bench"
        )
    others = {name: figures for name, figures in by_engine.items() if name != served_engine}
    return {"engine": served_engine, **by_engine[served_engine], "others": others}


def figures_of(section: dict | None, name: str) -> dict | None:
    """One engine's figures from a section of that shape; None where it was not measured."""
    if not section:
        return None
    if section.get("engine") == name:
        return section
    return section.get("others", {}).get(name)


def all_figures(section: dict) -> dict[str, dict]:
    """Every engine's figures of a section, the served engine's first."""
    served_engine = section.get("engine", "served")
    return {served_engine: section, **section.get("others", {})}


def timings(section: dict) -> str:
    """Each engine's share of a section's time ("onnx 60 s, llama 58 s"), where it was kept."""
    return ", ".join(
        f"{name} {figures['seconds']:.0f} s"
        for name, figures in all_figures(section).items()
        if "seconds" in figures
    )


def label(name: str) -> str:
    return LABELS.get(name, name)
