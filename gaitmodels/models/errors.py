"""The one error type of the torch core: a bad argument that a user (or a caller's data) can fix.

It is both a :class:`gaitprep.errors.BadInputError` (so the CLI prints one line and exits 1) and a
:class:`ValueError` (so library callers and tests can catch the idiomatic type).
"""

from __future__ import annotations

from gaitprep.errors import BadInputError


class InvalidInputError(BadInputError, ValueError):
    """A tensor, array or argument has the wrong shape, dtype or value for the model, loss or sampler."""
