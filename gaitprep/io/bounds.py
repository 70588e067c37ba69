"""Bounds checked before any work: a hostile or careless input is refused in milliseconds, in one line.

Documented limits (each refusal is a BadInputError naming the file):

- ``MAX_MANIFEST_BYTES`` (256 MiB) for ``manifest.json``; ``MAX_SMALL_FILE_BYTES`` (16 MiB) for partitions,
  recipes and per-frame pose JSON. Only regular files are read: a FIFO, socket or device (``/dev/zero``)
  is refused without being read, so nothing hangs or reads without end.
- ``MAX_PNG_SIDE`` (8192 px) for each side of a PNG frame, read from the IHDR header before decoding;
  a file must start with the PNG signature (a JPEG or BMP named ``.png`` is refused).
- ``MAX_ARRAY_BYTES`` (4 GiB) for one array declared by an HDF5 dataset or a pickle (shape x itemsize),
  checked before anything is allocated; an HDF5 keypoint dataset may declare at most ``MAX_SEQUENCE_FRAMES``
  (100,000) frames.
- ``MAX_JSON_DEPTH`` (64 levels) of nesting in JSON and YAML documents; YAML anchors and aliases are refused.
"""

from __future__ import annotations

import json
import os
import stat
import struct
from pathlib import Path
from typing import Any

from gaitprep.errors import BadInputError

MAX_MANIFEST_BYTES = 256 << 20
MAX_SMALL_FILE_BYTES = 16 << 20
MAX_PNG_SIDE = 8192
MAX_ARRAY_BYTES = 4 << 30
MAX_JSON_DEPTH = 64
MAX_SEQUENCE_FRAMES = 100_000

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAGIC = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"BM", "a BMP image"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"RIFF", "a RIFF/WebP file"),
)


def read_fd_upto(fd: int, limit: int) -> bytes:
    """At most ``limit + 1`` bytes from an open descriptor: one byte past the limit tells the caller that the
    file grew (or lied about its size) without ever reading an unbounded stream."""
    chunks, left = [], limit + 1
    while left > 0:
        block = os.read(fd, min(left, 1 << 24))
        if not block:
            break
        chunks.append(block)
        left -= len(block)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def read_regular_file(path: str | Path, limit: int, what: str) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes; else one-line bad input.

    Opened non-blocking, so a FIFO never blocks the open; its type is checked on the open descriptor.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except IsADirectoryError:
        raise BadInputError(f"{what} is a directory, expected a file", path) from None
    except OSError as exc:
        raise BadInputError(f"cannot read {what}: {exc.strerror}", path) from None
    except ValueError:  # an embedded NUL byte
        raise BadInputError(f"cannot read {what}: the path holds a NUL byte", repr(str(path))) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise BadInputError(f"{what} is a directory, expected a file", path)
        if not stat.S_ISREG(st.st_mode):
            raise BadInputError(f"{what} is not a regular file (a FIFO, socket or device)", path)
        if st.st_size > limit:
            raise BadInputError(f"{what} is {st.st_size} bytes, more than the {limit} byte limit", path)
        data = read_fd_upto(fd, limit)
    except OSError as exc:
        raise BadInputError(f"cannot read {what}: {exc.strerror}", path) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise BadInputError(f"{what} is more than the {limit} byte limit", path)
    return data


def _depth(obj: Any, limit: int) -> int:
    """Nesting depth of lists/dicts, iteratively (no recursion), stopping once past ``limit``."""
    deepest = 0
    stack = [(obj, 1)]
    while stack:
        item, d = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list | tuple):
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            stack.extend((x, d + 1) for x in item)
    return deepest


def json_nesting_ok(data: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the bracket nesting of a JSON text stays within ``limit`` (scanned without parsing)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    depth = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads_json(
    data: bytes | str, path: object, what: str, *, allow_nan: bool = False, invalid: str | None = None
) -> Any:
    """``json.loads`` with one-line errors: malformed text, nesting deeper than ``MAX_JSON_DEPTH``,
    integers beyond Python's digit limit, and (unless ``allow_nan``) NaN/Infinity tokens.
    ``invalid`` replaces the words "<what> is not valid JSON" of the error."""
    invalid = invalid or f"{what} is not valid JSON"
    if not json_nesting_ok(data):
        raise BadInputError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep", path)
    kwargs: dict[str, Any] = {} if allow_nan else {"parse_constant": _no_constants}
    try:
        return json.loads(data, **kwargs)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{invalid} ({exc})", path) from None
    except (ValueError, RecursionError) as exc:  # NaN tokens, a 5000-digit integer
        raise BadInputError(f"{invalid} ({exc})", path) from None


def check_png_header(data: bytes, path: object) -> tuple[int, int]:
    """``(width, height)`` from a PNG's IHDR; refuses other formats and frames beyond ``MAX_PNG_SIDE``."""
    if not data.startswith(PNG_SIGNATURE):
        kind = next((name for magic, name in _MAGIC if data.startswith(magic)), None)
        found = f"it is {kind}" if kind else ("empty file" if not data else "no PNG signature")
        raise BadInputError(f"not a readable PNG image ({found})", path)
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise BadInputError("not a readable PNG image (no IHDR header: corrupt or truncated)", path)
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        raise BadInputError(f"not a readable PNG image (corrupt header: {width}x{height} px)", path)
    if width > MAX_PNG_SIDE or height > MAX_PNG_SIDE:
        raise BadInputError(
            f"PNG is {width}x{height} px; frames must be 1 to {MAX_PNG_SIDE} px on each side", path
        )
    return width, height


def check_array_bytes(shape: tuple[int, ...], itemsize: int, path: object, what: str = "array") -> None:
    """Refuse an array whose declared shape x itemsize exceeds ``MAX_ARRAY_BYTES`` (before reading it)."""
    total = itemsize
    for n in shape:
        if n < 0:
            raise BadInputError(f"{what} declares a negative dimension {tuple(shape)}", path)
        total *= int(n)
    if total > MAX_ARRAY_BYTES:
        raise BadInputError(
            f"{what} of shape {tuple(shape)} would take {total} bytes, more than the {MAX_ARRAY_BYTES} byte limit",
            path,
        )


def json_numbers(values: list[Any], path: object, what: str) -> None:
    """Every item must be a JSON number: strings, booleans, null and containers are refused."""
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise BadInputError(f"{what}[{i}] is {json.dumps(v)[:40]}, not a number", path)
