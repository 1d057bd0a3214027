"""`python -m corpus COMMAND …`: one subcommand per module, each with add_arguments() and run()."""

import importlib
import sys

from cli import OneLineParser, UsageError

COMMANDS = {"prepare": "corpus.prepare"}


def main(argv=None) -> int:
    parser = OneLineParser(prog="python -m corpus", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(subparsers.add_parser(name, help=module.__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    try:
        return importlib.import_module(COMMANDS[args.command]).run(args) or 0
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # writes are atomic: nothing half-done is left in the output
        print(f"interrupted: {args.out_dir} is as it was; run the command again", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
