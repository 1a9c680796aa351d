"""The one exception type users see.

Everything a user can get wrong (a file, a line, a config key, a corpus name) raises
`BiotuneError` with a message that names the culprit; the CLI prints the message without a
traceback and exits with status 2. Programming errors stay ordinary exceptions.
"""


class BiotuneError(Exception):
    """A user-facing error: bad input, bad config, missing data."""
