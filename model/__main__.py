"""`python -m model COMMAND …`: one subcommand per module, each with add_arguments() and run()."""

import importlib
import sys

from cli import OneLineParser, UsageError
from contracts import ArtifactError
from model import native_logs

# Subcommand → module. Modules are imported only when chosen, so `--help` and light commands
# never pay for TensorFlow's import.
COMMANDS = {
    "download": "model.download",
    "init": "model.init",
    "finetune": "model.finetune",
    "evaluate": "model.evaluate",
    "export": "model.export",
    "sample": "model.sample",
}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Decided before any subcommand's module is imported: importing TensorFlow already logs.
    verbose = "-v" in argv or "--verbose" in argv
    native_logs.configure(verbose)
    with native_logs.filtered_stderr(verbose=verbose):
        return run_command(argv)


def run_command(argv: list[str]) -> int:
    parser = OneLineParser(prog="python -m model", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, module_name in COMMANDS.items():
        sub = subparsers.add_parser(name, help=f"see python -m model {name} --help")
        sub.add_argument(
            "-v", "--verbose", action="store_true", help="also TensorFlow's own log lines"
        )
        if name == chosen:
            importlib.import_module(module_name).add_arguments(sub)
    args = parser.parse_args(argv)
    try:
        return importlib.import_module(COMMANDS[args.command]).run(args) or 0
    except (UsageError, ArtifactError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
