"""User-facing errors.

Every mistake a user can make (a bad config value, a missing data file, a corrupt checkpoint)
raises a `GradschoolError` whose message is one paragraph: what was wrong and how to fix it.
The CLI prints that paragraph instead of a traceback. Programming errors inside gradschool
are left as ordinary exceptions so their tracebacks stay visible.
"""


class GradschoolError(Exception):
    """An error caused by the user's input, with a message that says how to fix it."""


class ConfigError(GradschoolError):
    """A config file or a command-line override is wrong."""


class DataError(GradschoolError):
    """A data set is missing, truncated, corrupt or of the wrong format."""


class CheckpointError(GradschoolError):
    """A run directory or checkpoint cannot be read or resumed."""


class TrainingError(GradschoolError):
    """Training cannot go on (e.g. the loss became NaN)."""
