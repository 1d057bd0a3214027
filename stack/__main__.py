"""`python -m stack --model data/serving/NAME [--model …] [--port 5000] [-v]` (`make serve`).

Serves the named exported models (the first is the default) with nginx and uWSGI in the
foreground, logging to this terminal, until Ctrl-C. What the servers print while starting
(uWSGI's ~35-line banner) is shown with -v, or when the start fails.
"""

import argparse
import signal
import sys
from pathlib import Path

from contracts import META
from stack.native import NativeStack, models_folder
from stack.processes import StackError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m stack",
        description="Serve an exported model with nginx and uWSGI on this machine (Ctrl-C stops).",
    )
    parser.add_argument(
        "--model",
        required=True,
        type=Path,
        action="append",
        help="data/serving/NAME; repeat to serve several (the first is the default)",
    )
    parser.add_argument("--port", type=int, default=5000, help="nginx's port (default 5000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--ready-timeout", type=float, default=300.0, help="seconds")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show the servers' start-up output (uWSGI's banner)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for model in args.model:
        if not (model / META).is_file():
            print(
                f"error: {model} is not an exported model (no meta.json): "
                "run `python -m model export --run RUN --out data/serving/NAME` first",
                file=sys.stderr,
            )
            return 2
    names = [model.name for model in args.model]
    if len(set(names)) < len(names):
        print(f"error: two models share a name ({', '.join(names)}): rename one", file=sys.stderr)
        return 2
    # Ctrl-C and SIGTERM both stop the stack, even where SIGINT was inherited as ignored (a
    # shell's background job, some process supervisors).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)
    try:
        with models_folder(args.model) as models_dir:
            stack = NativeStack(
                models_dir=models_dir,
                default_model=names[0],
                port=args.port,
                host=args.host,
                console=True,
                verbose=args.verbose,
                ready_timeout=args.ready_timeout,
            )
            with stack:
                print(f"Serving {', '.join(names)} at {stack.url}/ (Ctrl-C stops)", flush=True)
                print(
                    f"Try: curl '{stack.url}/generate?prefix=Once+upon+a+time&length=40'",
                    flush=True,
                )
                stopped = stack.wait()
                print(f"error: {stopped} stopped unexpectedly; see its log above", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        print("stopped nginx and uWSGI", flush=True)
        return 0
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
