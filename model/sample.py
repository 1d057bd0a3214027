"""`python -m model sample --run RUN | --model SERVING_DIR [--prefix … --length … --seed …]`.

Prints samples the way the API would serve them, because it runs the serving core's generate
entry as the API does: the same ranges and messages for the settings, and the scheduler, the
engine, the sampler (banned filler ids, per-sample seeds) and the text stream (end token, hidden
`<|endoftext|>` stop for checkpoints trained before it was one id). No HTTP and no Flask: it runs
in the trainer image.

- `--run RUN`: a fine-tuned checkpoint, through the TensorFlow reference engine; --checkpoint
  best (default: lowest validation loss, else the latest) or latest.
- `--model DIR`: an exported serving folder, through the serving engine (GHOST_ENGINE, as the
  API serves it).
"""

import argparse
from pathlib import Path

from cli import UsageError
from contracts import META
from model import best_checkpoint, paths

SETTINGS = {  # flag → (type, default); None: the core's own (serving.sampling_params)
    "prefix": (str, ""),
    "length": (int, None),
    "temperature": (float, None),
    "top_k": (int, None),
    "top_p": (float, None),
    "seed": (int, 0),
    "nsamples": (int, 3),
}
SEPARATOR = "=" * 40
MAX_SLOTS = 16  # samples made side by side; more wait for a free slot


def add_arguments(parser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="fine-tuned run in $GHOST_DATA_DIR/checkpoint/RUN")
    source.add_argument("--model", type=Path, help="exported serving folder (model export --out)")
    parser.add_argument(
        "--checkpoint", choices=best_checkpoint.CHOICES, default="best", help="with --run"
    )
    for name, (kind, default) in SETTINGS.items():
        shown = "the API's" if default is None else repr(default)
        flag = f"--{name.replace('_', '-')}"
        parser.add_argument(flag, type=kind, default=default, help=f"default {shown}")


def model_folder(args) -> tuple[Path, str, str]:
    """(folder, engine name or None for the API's, what is sampled) for the chosen run or
    serving folder."""
    if args.run:
        folder, why = best_checkpoint.select(paths.run_path(args.run), args.checkpoint)
        return folder, "tensorflow", f"run {args.run}: {why}"
    if not (args.model / META).is_file():
        raise UsageError(
            f"{args.model} is not a serving folder (no meta.json); make one with "
            "`python -m model export --run RUN --out DIR`, or pass --run RUN"
        )
    return args.model, None, f"serving folder {args.model}"


def usage_error(error) -> UsageError:
    """The serving core's error for a parameter, as a CLI error naming the flag."""
    flag = f"--{error.param.replace('_', '-')}: " if error.param else ""
    return UsageError(flag + error.message)


def checked_params(asked: dict):
    """The settings as the API checks them (the core's ranges and messages), before loading."""
    from serving.errors import ServingError
    from serving.sampling_params import SamplingParams, check_ranges, engine_safe

    params = SamplingParams(**{name: value for name, value in asked.items() if name != "prefix"})
    try:
        check_ranges(params)
    except ServingError as error:
        raise usage_error(error) from None
    return engine_safe(params)


def load(folder: Path, settings):
    """The model as the serving registry loads it: engine, tokenizer, scheduler."""
    from serving import engines
    from serving.registry import ServedModel
    from serving.scheduler import Scheduler
    from serving.tokenizer import Tokenizer

    engine = engines.load(settings, folder)
    scheduler = Scheduler(engine, prefill_chunk=settings.prefill_chunk)
    return ServedModel(folder.name, folder, engine, Tokenizer(folder), scheduler)


def generate(model, settings, prefix: str, params) -> list:
    """The request's samples, made by the serving core's generate entry as the API makes them."""
    from serving import generation
    from serving.admission import Admission
    from serving.errors import ServingError
    from serving.pacing import StreamPacer

    policy = generation.GenerationPolicy(
        admission=Admission(settings.max_inflight, settings.max_inflight),
        max_queue_wait=settings.max_queue_wait,
        max_length=settings.max_length,
        max_request_s=settings.max_request_s,
        pacer=StreamPacer(0),
    )
    try:
        return generation.begin(model, prefix, params, policy=policy, live=False).complete()
    except ServingError as error:
        raise usage_error(error) from None


def run(args) -> int:
    from serving import config

    folder, engine_name, what = model_folder(args)
    asked = {name: getattr(args, name) for name in SETTINGS if getattr(args, name) is not None}
    params = checked_params(asked)
    slots = max(1, min(args.nsamples, MAX_SLOTS))
    chosen = {"models_dir": folder.parent, "max_slots": slots}
    settings = config.load(chosen | ({"engine": engine_name} if engine_name else {}))
    print(f"sampling {what}", flush=True)
    model = load(folder, settings)
    try:
        samples = generate(model, settings, args.prefix, params)
    finally:
        model.scheduler.close()
        model.engine.close()
    for number, sample in enumerate(samples, start=1):
        print(f"{SEPARATOR} sample {number} ({sample.tokens} tokens, {sample.finish_reason})")
        print(args.prefix + sample.text)
    return 0
