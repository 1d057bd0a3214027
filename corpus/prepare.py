"""Clean, de-duplicate and split a corpus folder into train.txt, val.txt, test.jsonl, stats.json.

`python -m corpus prepare IN_DIR OUT_DIR [--profile episodes|lyrics|plain] …`
"""

import time
from pathlib import Path

from cli import UsageError
from corpus.augment import AUGMENTATIONS
from corpus.pipeline import PrepareSettings, default_workers, prepare
from corpus.profiles import PROFILES, RULE_NAMES, select_rules
from corpus.spelling import read_table
from corpus.stats import summary_table

DEFAULTS = PrepareSettings(in_dir=Path(), out_dir=Path())


def add_arguments(parser) -> None:
    parser.add_argument("in_dir", type=Path, metavar="IN_DIR", help="corpus folder of .txt files")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="prepared folder to write")
    parser.add_argument(
        "--profile", default=DEFAULTS.profile, help=f"rule set: {'|'.join(PROFILES)}"
    )
    parser.add_argument("--val", type=float, default=DEFAULTS.val, help="fraction for val.txt")
    parser.add_argument("--test", type=float, default=DEFAULTS.test, help="fraction for test.jsonl")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help="split/augment seed")
    parser.add_argument(
        "--min-words",
        type=int,
        default=DEFAULTS.min_words,
        help="drop documents with fewer words after cleaning",
    )
    parser.add_argument("--augment", help=f"training-data augmentation: {'|'.join(AUGMENTATIONS)}")
    parser.add_argument("--spelling", type=Path, metavar="FILE.tsv", help="written<TAB>normalised")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes that read and clean, 0: none (default: env "
        "GHOST_PREPARE_WORKERS, else one per core, at most 4)",
    )
    parser.add_argument(
        "--with",
        dest="with_rules",
        action="append",
        default=[],
        metavar="RULE[,RULE]",
        help=f"add rules to the profile: {', '.join(RULE_NAMES)}",
    )
    parser.add_argument(
        "--without",
        dest="without_rules",
        action="append",
        default=[],
        metavar="RULE[,RULE]",
        help="leave rules of the profile out",
    )


def _names(values: list[str]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def settings_from(args) -> PrepareSettings:
    if not (0 <= args.val < 1 and 0 <= args.test < 1 and args.val + args.test < 1):
        raise UsageError("--val and --test are fractions in [0, 1) with val + test < 1")
    if args.min_words < 1:
        raise UsageError("--min-words must be at least 1")
    workers = default_workers() if args.workers is None else args.workers
    if workers < 0:
        raise UsageError("--workers must be 0 (clean in this process) or more")
    if args.augment is not None and args.augment not in AUGMENTATIONS:
        raise UsageError(
            f"unknown --augment {args.augment!r}; valid augmentations: {', '.join(AUGMENTATIONS)}"
        )
    return PrepareSettings(
        in_dir=args.in_dir,
        out_dir=args.out_dir,
        profile=args.profile,
        val=args.val,
        test=args.test,
        seed=args.seed,
        min_words=args.min_words,
        augment=args.augment,
        spelling=args.spelling,
        workers=workers,
    )


def run(args) -> int:
    settings = settings_from(args)
    table = read_table(settings.spelling) if settings.spelling else None
    rules = select_rules(
        settings.profile,
        with_rules=_names(args.with_rules),
        without_rules=_names(args.without_rules),
        spelling=table,
    )
    started = time.perf_counter()
    stats = prepare(settings, rules, spelling=table)
    seconds = time.perf_counter() - started
    print(f"prepared {settings.in_dir} → {settings.out_dir} (profile {settings.profile})")
    print(summary_table(stats, seconds=seconds))
    return 0
