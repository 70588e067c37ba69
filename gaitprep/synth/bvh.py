"""A small, bounded reader for BVH motion capture files and their forward kinematics.

BVH is plain text in two parts (see ``shared/reference/real-walking-data.md`` §1)::

    HIERARCHY
    ROOT Hips
    {
        OFFSET x y z
        CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
        JOINT LeftUpLeg
        {
            OFFSET x y z
            CHANNELS 3 Zrotation Yrotation Xrotation
            End Site
            {
                OFFSET x y z
            }
        }
    }
    MOTION
    Frames: T
    Frame Time: 0.033333
    <T lines of C numbers, the joints' channels in hierarchy order>

Conventions [decisions, those of LaFAN1 and of most exporters]:

* the rotation channels of a joint compose **intrinsically in the order listed**: ``Zrotation Yrotation
  Xrotation`` gives ``R = Rz · Ry · Rx``, angles in degrees;
* a joint with position channels takes them as its translation relative to its parent (for the root:
  its world position); its ``OFFSET`` is then unused. Other joints sit at their ``OFFSET``;
* world rotation ``W_j = W_parent · R_j``; world position ``p_j = p_parent + W_parent · t_j``.

``End Site`` blocks are read and checked but not returned (they carry no channels). Units are those of
the file (LaFAN1: centimetres, Y up).

Input is bounded: at most :data:`MAX_TEXT_CHARS` characters, :data:`MAX_JOINTS` joints and
:data:`MAX_VALUES` motion numbers, all finite. Anything malformed raises
:class:`~gaitprep.errors.BadInputError` with a one-line message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gaitprep.errors import BadInputError

MAX_TEXT_CHARS = 64 * 1024 * 1024
MAX_JOINTS = 256
MAX_DEPTH = 64
MAX_VALUES = 20_000_000

POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
_AXIS = {"X": 0, "Y": 1, "Z": 2}


@dataclass(frozen=True, eq=False)
class BvhMotion:
    """A parsed BVH file.

    ``names``: the ``J`` joint names in file order (parents before children; end sites excluded).
    ``parents``: ``J`` parent indices, ``-1`` for a root. ``offsets``: float64 ``(J, 3)``.
    ``channels``: per joint, its channel names in file order. ``frames``: float64 ``(T, C)`` with ``C`` the
    total channel count, columns in joint order. ``frame_time``: seconds per frame.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    frames: np.ndarray
    frame_time: float

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.frames.shape[1])

    def index(self, name: str) -> int:
        """Index of joint ``name``; ``KeyError`` when absent."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(name) from None

    def channel_columns(self) -> list[slice]:
        """Per joint, the slice of ``frames`` columns holding its channels."""
        out, start = [], 0
        for chans in self.channels:
            out.append(slice(start, start + len(chans)))
            start += len(chans)
        return out


class _Tokens:
    """Whitespace tokens of the hierarchy with the line number of each, for one-line error messages."""

    def __init__(self, lines: list[str]):
        self.items = [(tok, n + 1) for n, line in enumerate(lines) for tok in line.split()]
        self.pos = 0

    def peek(self) -> str | None:
        return self.items[self.pos][0] if self.pos < len(self.items) else None

    def line(self) -> int:
        if self.pos < len(self.items):
            return self.items[self.pos][1]
        return self.items[-1][1] if self.items else 1

    def take(self, what: str) -> str:
        if self.pos >= len(self.items):
            raise BadInputError(f"BVH hierarchy ends early: expected {what}")
        tok = self.items[self.pos][0]
        self.pos += 1
        return tok

    def expect(self, literal: str) -> None:
        line = self.line()
        tok = self.take(repr(literal))
        if tok != literal:
            raise BadInputError(f"BVH line {line}: expected {literal!r}, got {tok[:40]!r}")

    def number(self, what: str) -> float:
        line = self.line()
        tok = self.take(what)
        try:
            value = float(tok)
        except ValueError:
            raise BadInputError(f"BVH line {line}: {what} is not a number: {tok[:40]!r}") from None
        if not np.isfinite(value):
            raise BadInputError(f"BVH line {line}: {what} is not finite: {tok[:40]!r}")
        return value


def _parse_joint(
    tokens: _Tokens,
    parent: int,
    depth: int,
    names: list[str],
    parents: list[int],
    offsets: list[tuple[float, float, float]],
    channels: list[tuple[str, ...]],
) -> None:
    """Parse ``<name> { OFFSET … CHANNELS … (JOINT …)* (End Site {…})? }`` after ROOT/JOINT."""
    if depth > MAX_DEPTH:
        raise BadInputError(f"BVH line {tokens.line()}: hierarchy deeper than {MAX_DEPTH} joints")
    if len(names) >= MAX_JOINTS:
        raise BadInputError(f"BVH has more than {MAX_JOINTS} joints")
    line = tokens.line()
    name = tokens.take("a joint name")
    if name in ("{", "}") or name in names:
        raise BadInputError(f"BVH line {line}: bad or repeated joint name {name[:40]!r}")
    index = len(names)
    names.append(name)
    parents.append(parent)
    tokens.expect("{")
    tokens.expect("OFFSET")
    offsets.append(tuple(tokens.number(f"{name} OFFSET") for _ in range(3)))  # type: ignore[arg-type]
    chans: tuple[str, ...] = ()
    if tokens.peek() == "CHANNELS":
        tokens.take("CHANNELS")
        line = tokens.line()
        count = tokens.number(f"{name} channel count")
        if count != int(count) or not 0 <= count <= 6:
            raise BadInputError(f"BVH line {line}: {name} channel count must be 0-6, got {count:g}")
        chans = tuple(tokens.take(f"{name} channel name") for _ in range(int(count)))
        for ch in chans:
            if ch not in POSITION_CHANNELS + ROTATION_CHANNELS:
                raise BadInputError(f"BVH line {line}: {name} has an unknown channel {ch[:40]!r}")
        if len(set(chans)) != len(chans):
            raise BadInputError(f"BVH line {line}: {name} repeats a channel")
    channels.append(chans)
    while True:
        line = tokens.line()
        tok = tokens.take("JOINT, End Site or '}'")
        if tok == "}":
            return
        if tok == "JOINT":
            _parse_joint(tokens, index, depth + 1, names, parents, offsets, channels)
        elif tok == "End":
            tokens.expect("Site")
            tokens.expect("{")
            tokens.expect("OFFSET")
            for _ in range(3):
                tokens.number(f"{name} End Site OFFSET")
            tokens.expect("}")
        else:
            raise BadInputError(f"BVH line {line}: expected JOINT, End Site or '}}', got {tok[:40]!r}")


def _header_value(line: str, key: str, number: int) -> str:
    if not line.startswith(key):
        raise BadInputError(f"BVH line {number}: expected {key!r}, got {line[:40]!r}")
    return line[len(key) :].strip()


def parse_bvh(text: str) -> BvhMotion:
    """Parse BVH ``text`` into a :class:`BvhMotion`; ``BadInputError`` (one line) when malformed."""
    if not isinstance(text, str):
        raise BadInputError(f"BVH text must be a str, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise BadInputError(f"BVH text is larger than {MAX_TEXT_CHARS} characters")
    lines = text.splitlines()
    try:
        motion_at = next(n for n, line in enumerate(lines) if line.strip() == "MOTION")
    except StopIteration:
        raise BadInputError("BVH has no MOTION section") from None

    tokens = _Tokens(lines[:motion_at])
    tokens.expect("HIERARCHY")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[tuple[float, float, float]] = []
    channels: list[tuple[str, ...]] = []
    while tokens.peek() is not None:
        tokens.expect("ROOT")
        _parse_joint(tokens, -1, 0, names, parents, offsets, channels)
    if not names:
        raise BadInputError("BVH hierarchy has no ROOT joint")

    rest = [(n + 1, line.strip()) for n, line in enumerate(lines) if n > motion_at and line.strip()]
    if len(rest) < 2:
        raise BadInputError("BVH MOTION section lacks 'Frames:' and 'Frame Time:'")
    (n_line, frames_line), (t_line, time_line) = rest[0], rest[1]
    frames_text = _header_value(frames_line, "Frames:", n_line)
    time_text = _header_value(time_line, "Frame Time:", t_line)
    try:
        n_frames = int(frames_text)
        frame_time = float(time_text)
    except ValueError:
        raise BadInputError(f"BVH line {n_line}: bad frame count or frame time") from None
    if not np.isfinite(frame_time) or frame_time <= 0:
        raise BadInputError(
            f"BVH line {t_line}: frame time must be a positive number, got {time_text[:40]!r}"
        )
    n_channels = sum(len(c) for c in channels)
    if n_frames < 0 or n_frames * max(n_channels, 1) > MAX_VALUES:
        raise BadInputError(
            f"BVH frame count {n_frames} is negative or over the bound of {MAX_VALUES} numbers"
        )
    rows = rest[2:]
    if len(rows) != n_frames:
        raise BadInputError(f"BVH declares {n_frames} frames but holds {len(rows)} frame lines")
    values = []
    for number, line in rows:
        row = line.split()
        if len(row) != n_channels:
            raise BadInputError(f"BVH line {number}: {len(row)} numbers, expected {n_channels} channels")
        values.append(row)
    try:
        frames = np.array(values, dtype=np.float64).reshape(n_frames, n_channels)
    except ValueError:
        bad = next(n for n, line in rows if not _all_numbers(line))
        raise BadInputError(f"BVH line {bad}: a motion value is not a number") from None
    if not np.isfinite(frames).all():
        bad_row = int(np.argwhere(~np.isfinite(frames))[0, 0])
        raise BadInputError(f"BVH line {rows[bad_row][0]}: a motion value is not finite")
    return BvhMotion(
        names=tuple(names),
        parents=tuple(parents),
        offsets=np.asarray(offsets, dtype=np.float64).reshape(len(names), 3),
        channels=tuple(channels),
        frames=frames,
        frame_time=frame_time,
    )


def _all_numbers(line: str) -> bool:
    try:
        [float(tok) for tok in line.split()]
    except ValueError:
        return False
    return True


def axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """float64 ``(T, 3, 3)`` rotation matrices about ``axis`` (``"X"``, ``"Y"`` or ``"Z"``) by ``degrees``."""
    theta = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    c, s = np.cos(theta), np.sin(theta)
    out = np.zeros(theta.shape + (3, 3))
    i = _AXIS[axis]
    j, k = (i + 1) % 3, (i + 2) % 3
    out[..., i, i] = 1.0
    out[..., j, j] = c
    out[..., k, k] = c
    out[..., j, k] = -s
    out[..., k, j] = s
    return out


def _select(motion: BvhMotion, frames: slice | Sequence[int] | np.ndarray | None) -> np.ndarray:
    if frames is None:
        return motion.frames
    if isinstance(frames, slice):
        return motion.frames[frames]
    idx = np.asarray(frames)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise BadInputError("frames must be a slice or a 1-D sequence of integer frame indices")
    if idx.size and (idx.min() < -motion.n_frames or idx.max() >= motion.n_frames):
        raise BadInputError(f"frame index out of range for {motion.n_frames} frames")
    return motion.frames[idx]


def world_transforms(
    motion: BvhMotion, frames: slice | Sequence[int] | np.ndarray | None = None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """World positions float64 ``(T, 3)`` and world rotations float64 ``(T, 3, 3)`` of every joint, by name.

    ``frames`` selects rows of ``motion.frames`` (a slice or integer indices; all when ``None``).
    Units of position are the file's (LaFAN1: cm). See the module docstring for the conventions.
    """
    data = _select(motion, frames)
    t = data.shape[0]
    positions: dict[str, np.ndarray] = {}
    rotations: dict[str, np.ndarray] = {}
    pos_list: list[np.ndarray] = []
    rot_list: list[np.ndarray] = []
    for j, (name, parent, chans, cols) in enumerate(
        zip(motion.names, motion.parents, motion.channels, motion.channel_columns(), strict=True)
    ):
        values = data[:, cols]
        local_r = np.broadcast_to(np.eye(3), (t, 3, 3)).copy()
        translation = np.broadcast_to(motion.offsets[j], (t, 3)).copy()
        has_position = False
        for c, ch in enumerate(chans):
            if ch in ROTATION_CHANNELS:
                local_r = local_r @ axis_rotation(ch[0], values[:, c])
            else:
                if not has_position:
                    translation = np.zeros((t, 3))
                    has_position = True
                translation[:, _AXIS[ch[0]]] = values[:, c]
        if parent < 0:
            world_r, world_p = local_r, translation
        else:
            parent_r = rot_list[parent]
            world_r = parent_r @ local_r
            world_p = pos_list[parent] + np.einsum("tij,tj->ti", parent_r, translation)
        rot_list.append(world_r)
        pos_list.append(world_p)
        positions[name] = world_p
        rotations[name] = world_r
    return positions, rotations


def forward_kinematics(
    motion: BvhMotion, frames: slice | Sequence[int] | np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """World positions float64 ``(T, 3)`` of every joint, by name (the file's units, e.g. cm).

    Child position = parent position + parent world rotation · OFFSET; rotations compose intrinsically in
    channel order (``Zrotation Yrotation Xrotation``: ``R = Rz·Ry·Rx``, degrees). The world rotations are
    available from :func:`world_transforms`.
    """
    return world_transforms(motion, frames)[0]
