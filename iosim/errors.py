"""Errors caused by what the user gave us: the CLI prints them as one line and exits 2."""


class UserError(Exception):
    """Bad input (a file, a name, an option value); str() is the whole message."""
