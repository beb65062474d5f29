"""The one exception type that means "the user can fix this"."""


class UserError(Exception):
    """A mistake in the user's input: shown as one line, exit code 2, no traceback."""
