"""What every stage's command line shares: bad input is one line on stderr naming the fix, and
exit code 2. Standard library only, like contracts.py: every stage and image can import it."""

import argparse


class UsageError(ValueError):
    """Bad input from the user; the message says what to do about it."""


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments get one line on stderr naming the fix (not argparse's usage block), exit 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message}; see {self.prog} --help\n")
