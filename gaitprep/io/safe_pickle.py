"""Restricted pickle loading: numpy arrays, numpy dtypes and plain containers only.

A pickle is a program. OpenGait trees are downloaded from third parties, so we never call a bare
``pickle.load``: ``find_class`` admits only the handful of numpy reconstructors that an array or dtype
needs, and anything else (``os.system``, ``builtins.eval``, ``subprocess.Popen`` ...) is refused before it
can run. Object arrays are refused too, since their items would be arbitrary Python objects.

An array is admitted only when its bytes come from the stream: numpy's own pickles build an array as
``_reconstruct(ndarray, (0,), b'b')`` (an empty array) and then fill it from the stream with
``__setstate__``, or (protocol 5) as ``_frombuffer(bytes, dtype, shape, order)``. A pickle that calls
``numpy.ndarray(shape)`` or ``_reconstruct`` with a non-empty shape would get uninitialised (or zeroed)
memory of any size from a few bytes of input: both are refused, and no declared array may exceed
``MAX_ARRAY_BYTES``.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep.errors import BadInputError, UnsafePickleError
from gaitprep.io.atomic import atomic_write_bytes
from gaitprep.io.bounds import MAX_ARRAY_BYTES, read_regular_file

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


class _NdarrayToken:
    """Stands for ``numpy.ndarray`` inside a pickle: usable as ``_reconstruct``'s first argument only.

    Calling it (``numpy.ndarray(shape)``) would allocate uninitialised memory not backed by the stream.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise UnsafePickleError(
            "refused numpy.ndarray(shape) without data (only arrays whose bytes come from the stream are allowed)"
        )


_NDARRAY = _NdarrayToken()


def _safe_reconstruct(subtype: Any, shape: Any, dtype_code: Any) -> np.ndarray:
    """numpy's ``_reconstruct`` for the empty placeholder its pickles use; ``__setstate__`` then fills it."""
    if subtype is not _NDARRAY and subtype is not np.ndarray:
        raise UnsafePickleError(f"refused to reconstruct {subtype!r} (only numpy.ndarray is allowed)")
    if tuple(shape) != (0,):
        raise UnsafePickleError(
            f"refused an array reconstructed with shape {tuple(shape)} and no data from the stream"
        )
    return np.ndarray.__new__(np.ndarray, (0,), np.uint8)


def _safe_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """Protocol-5 arrays: the bytes are in the stream; their length must be exactly shape x itemsize."""
    dtype = np.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    n = 1
    for d in shape:
        if d < 0:
            raise BadInputError(f"array declares a negative dimension {shape}")
        n *= d
    if n * dtype.itemsize > MAX_ARRAY_BYTES:
        raise BadInputError(f"array of shape {shape} exceeds the {MAX_ARRAY_BYTES} byte limit")
    data = memoryview(buf).cast("B")
    if len(data) != n * dtype.itemsize:
        raise BadInputError(
            f"array of shape {shape} {dtype} needs {n * dtype.itemsize} bytes, the stream holds {len(data)}"
        )
    return (
        np.frombuffer(data, dtype=dtype)
        .reshape(shape, order="F" if order == "F" else "C")
        .copy(order="F" if order == "F" else "C")
    )


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED or (module in _DTYPE_MODULES and name.endswith("DType")):
            if name == "ndarray":
                return _NDARRAY
            if name == "_reconstruct":
                return _safe_reconstruct
            if name == "_frombuffer":
                return _safe_frombuffer
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
    data = read_regular_file(path, MAX_ARRAY_BYTES, "pickle")  # a FIFO or device is refused, not read
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
