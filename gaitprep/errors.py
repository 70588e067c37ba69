"""Errors that every command turns into one line on stderr and a fixed exit code.

Exit codes, the same for every command of the toolkit:
0 success, 1 bad input or error, 2 usage error (click), 3 verification failed.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_VERIFY_FAILED = 3


class GaitprepError(Exception):
    """Base class: a problem a user can act on, reported as one line without a traceback."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, path: object | None = None):
        self.path = None if path is None else str(path)
        text = message if self.path is None else f"{self.path}: {message}"
        super().__init__(" ".join(text.split("\n")))


def validation_summary(exc: Exception) -> str:
    """A pydantic ValidationError in one line, ``--field-name: problem``: its first error, the field
    spelled as the command-line option that sets it (``sigma_limb`` -> ``--sigma-limb``)."""
    errors = exc.errors() if hasattr(exc, "errors") else []
    if not errors:
        return " ".join(str(exc).split())
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if not isinstance(p, int)]
    where = "--" + loc[-1].replace("_", "-") if loc else getattr(exc, "title", "value")
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


class BadInputError(GaitprepError):
    """The input (a file, a tree, a partition, a recipe) is malformed or inconsistent."""


class DifferentDatasetError(BadInputError):
    """The output already holds a dataset of another derivation, and nothing asked to replace it."""


class UnsafePickleError(BadInputError):
    """A pickle tried to load something other than numpy arrays and plain containers."""


class MismatchError(GaitprepError):
    """Model and data disagree (modality, channels, class order, split)."""


class VerificationError(GaitprepError):
    """A dataset or manifest does not match what was recorded."""

    exit_code = EXIT_VERIFY_FAILED


class BuildLockedError(GaitprepError):
    """Another build is writing the same output right now."""


class TrainingDivergedError(GaitprepError):
    """The training loss became NaN or infinite; the run stopped before the step that would spread it."""


class BuildInterrupted(GaitprepError):
    """Ctrl-C stopped a build; the message says how to resume it."""
