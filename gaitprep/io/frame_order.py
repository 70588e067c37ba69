"""The order in which a raw sequence's frame files are read.

Real trees name frames ``000001.png`` (zero-padded, Scoliosis1K) or ``0.json … 175.json`` (unpadded, what
many detectors write). Sorting names as strings reads the unpadded ones as 0, 1, 10, 100, 101, …, so every
reader orders frames by the integer in the file name instead (``numeric``, the default). ``lexical``
reproduces upstream's readers (``sorted(os.listdir(...))``).

The frame number of a file is the integer at the end of its stem (``frame_12.json`` -> 12); a name without
one makes the whole sequence fall back to name order, since numbers cannot be compared with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, get_args

FrameOrder = Literal["numeric", "lexical"]
FRAME_ORDERS: tuple[str, ...] = get_args(FrameOrder)
DEFAULT_FRAME_ORDER: FrameOrder = "numeric"

_TRAILING_INT = re.compile(r"(\d+)$")


def frame_number(path: Path | str) -> int | None:
    """The integer at the end of the file stem, or None when the stem does not end in digits."""
    match = _TRAILING_INT.search(_stem(path))
    return int(match.group(1)) if match else None


def _stem(path: Path | str) -> str:
    name = path.name if isinstance(path, Path) else Path(path).name
    dot = name.rfind(".")
    return name[:dot] if dot > 0 else name


def order_frame_files(paths: Iterable[Path], order: str = DEFAULT_FRAME_ORDER) -> list[Path]:
    """``paths`` in reading order: by frame number (ties by name) for ``numeric``, by name for ``lexical``.

    ``numeric`` falls back to name order when some name carries no frame number.
    """
    if order not in FRAME_ORDERS:
        raise ValueError(f"frame order must be one of {FRAME_ORDERS}, got {order!r}")
    by_name = sorted(paths, key=lambda p: p.name)
    if order == "lexical":
        return by_name
    numbers = [frame_number(p) for p in by_name]
    if any(n is None for n in numbers):
        return by_name
    return [p for _, p in sorted(zip(numbers, by_name, strict=True), key=lambda np_: (np_[0], np_[1].name))]


def unpadded_names(paths: Iterable[Path]) -> bool:
    """True when the frame numbers in the names are written with different widths (``9`` and ``10``), i.e.
    when name order and frame order differ or could differ."""
    widths = set()
    for p in paths:
        match = _TRAILING_INT.search(_stem(p))
        if match is None:
            return False
        widths.add(len(match.group(1)))
    return len(widths) > 1
