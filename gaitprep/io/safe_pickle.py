"""Restricted pickle loading: numpy arrays, numpy dtypes and plain containers only.

A pickle is a program. OpenGait trees are downloaded from third parties, so we never call a bare
``pickle.load``: ``find_class`` admits only the handful of numpy reconstructors that an array or dtype
needs, and anything else (``os.system``, ``builtins.eval``, ``subprocess.Popen`` ...) is refused before it
can run. Object arrays are refused too, since their items would be arbitrary Python objects.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep.errors import BadInputError, UnsafePickleError
from gaitprep.io.atomic import atomic_write_bytes

_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("collections", "OrderedDict"),
        # protocol-2 numpy pickles store the raw buffer as a latin-1 str re-encoded with this: str -> bytes
        ("_codecs", "encode"),
    }
)
# numpy pickles scalar dtypes as classes such as numpy.dtypes.UInt8DType; admit only those dtype classes.
_DTYPE_MODULES = ("numpy.dtypes",)

PICKLE_PROTOCOL = 4  # fixed so that the same array always gives the same bytes


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED or (module in _DTYPE_MODULES and name.endswith("DType")):
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"refused to load {module}.{name} (only numpy arrays and plain containers are allowed)"
        )


def _reject_object_arrays(obj: Any) -> None:
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        raise UnsafePickleError("refused an object array (only numeric arrays are allowed)")
    if isinstance(obj, dict):
        for value in obj.values():
            _reject_object_arrays(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            _reject_object_arrays(value)


def loads_restricted(data: bytes) -> Any:
    """Unpickle ``data`` admitting only numpy arrays/dtypes and plain containers."""
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data)).load()
    except UnsafePickleError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        MemoryError,
        OverflowError,
    ) as exc:
        raise BadInputError(f"corrupt or truncated pickle ({type(exc).__name__}: {exc})") from None
    _reject_object_arrays(obj)
    return obj


def load_pickle(path: str | Path) -> Any:
    """Load a pickle file through the restricted unpickler; errors name the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read pickle: {exc.strerror}", path) from None
    try:
        return loads_restricted(data)
    except BadInputError as exc:
        raise type(exc)(str(exc), path) from None


def load_array_pickle(path: str | Path) -> np.ndarray:
    """Load a pickle that must hold exactly one numeric numpy array."""
    obj = load_pickle(path)
    if not isinstance(obj, np.ndarray):
        raise BadInputError(f"pickle holds {type(obj).__name__}, expected a numpy array", path)
    return obj


# numpy 2 pickles arrays through ``numpy._core.multiarray._reconstruct``, a module numpy < 2 lacks ("No
# module named 'numpy._core'"); every numpy, 1.x and 2.x, resolves ``numpy.core.multiarray._reconstruct``
# without a warning (numpy 2 keeps that name for old pickles). The function object, whatever its module:
_RECONSTRUCT = np.empty(0).__reduce__()[0]


class _PortablePickler(pickle._Pickler):  # the Python pickler: its save_global can be overridden
    """Writes the array reconstructor under its numpy-1.x name, so the bytes (and the files' sha256) are the
    same whichever numpy wrote them and every numpy reads them."""

    def save_global(self, obj: Any, name: str | None = None) -> None:
        if obj is _RECONSTRUCT:
            self.save("numpy.core.multiarray")
            self.save("_reconstruct")
            self.write(pickle.STACK_GLOBAL)
            self.memoize(obj)
            return
        super().save_global(obj, name)


def dumps_array(array: np.ndarray) -> bytes:
    """``array`` (numeric, made C-contiguous) as protocol-4 pickle bytes that numpy 1.x and 2.x both load."""
    array = np.ascontiguousarray(array)
    if array.dtype.hasobject:
        raise BadInputError("refused to pickle an object array (only numeric arrays are written)")
    buf = io.BytesIO()
    _PortablePickler(buf, protocol=PICKLE_PROTOCOL).dump(array)
    return buf.getvalue()


def dump_array_pickle(array: np.ndarray, path: str | Path) -> int:
    """Write ``array`` as an OpenGait-compatible pickle (see :func:`dumps_array`), atomically. Returns the
    byte count."""
    data = dumps_array(array)
    atomic_write_bytes(Path(path), data)
    return len(data)
