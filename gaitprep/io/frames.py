"""Per-frame raw readers: PNG silhouette masks and OpenPose-layout keypoint JSON (COCO-17 or BODY_25)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gaitprep.errors import BadInputError
from gaitprep.io.body25 import BODY25_NUMBERS, body25_to_coco17
from gaitprep.io.bounds import (
    MAX_SMALL_FILE_BYTES,
    check_png_header,
    json_numbers,
    loads_json,
    read_regular_file,
)
from gaitprep.io.frame_order import frame_number
from gaitprep.io.joints import nonfinite_to_missing
from gaitprep.io.person import select_people
from gaitprep.io.tree import SequenceRef

MAX_PNG_BYTES = 256 << 20
POSE_NUMBERS = 51  # 17 joints x (x, y, confidence)

CV_LOG_LEVEL_ERROR = 2  # cv::utils::logging::LOG_LEVEL_ERROR


def quiet_opencv() -> None:
    """OpenCV prints decoder warnings (e.g. a truncated PNG) straight to stderr; we report such files
    ourselves. ``cv2.utils.logging`` is missing from some wheels (e.g. 4.11 with numpy 1.x), so fall back to
    ``cv2.setLogLevel``, and do nothing where neither exists."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None and hasattr(logging, "setLogLevel"):
        logging.setLogLevel(getattr(logging, "LOG_LEVEL_ERROR", CV_LOG_LEVEL_ERROR))
    elif hasattr(cv2, "setLogLevel"):
        cv2.setLogLevel(CV_LOG_LEVEL_ERROR)


quiet_opencv()


def read_png(path: Path) -> np.ndarray:
    """One mask as uint8 (H, W), read as 8-bit greyscale like upstream.

    The file must be a PNG (by signature) whose header declares at most ``MAX_PNG_SIDE`` px a side:
    checked before decoding, so a tiny file declaring 20000x20000 px is refused, not decoded.
    """
    raw = read_regular_file(path, MAX_PNG_BYTES, "PNG frame")
    check_png_header(raw, path)
    data = np.frombuffer(raw, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if img is None:
        raise BadInputError("not a readable PNG image (corrupt or truncated)", path)
    return img


def read_png_frames(ref: SequenceRef, files: list[Path] | None = None) -> np.ndarray:
    """All frames of a ``sil-raw`` sequence as uint8 (T, H, W), in frame order (``ref.read.frame_order``)."""
    frames = [read_png(p) for p in (ref.files() if files is None else files)]
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise BadInputError(f"frames have different sizes {sorted(shapes)}", ref.folder)
    return np.stack(frames)


@dataclass
class PoseFrame:
    """The people of one pose JSON frame, as COCO-17 ``(17, 3)`` float64 arrays (x, y px, confidence).

    ``people`` holds the entries that are not all zero, in listed order; ``listed`` their index in the
    file's ``people`` list; ``zero_entries`` how many entries were all zero (no person: never chosen).
    Non-finite numbers are kept here; the sequence reader turns them into missing joints.
    """

    people: list[np.ndarray]
    listed: list[int]
    zero_entries: int = 0
    body25: bool = False


def _person_array(kps: object, index: int, path: Path) -> tuple[np.ndarray, bool]:
    if not isinstance(kps, list) or len(kps) not in (POSE_NUMBERS, BODY25_NUMBERS):
        n = len(kps) if isinstance(kps, list) else "no"
        raise BadInputError(
            f"people[{index}].pose_keypoints_2d has {n} numbers, expected {POSE_NUMBERS} (COCO-17) or "
            f"{BODY25_NUMBERS} (OpenPose BODY_25)",
            path,
        )
    json_numbers(kps, path, f"people[{index}].pose_keypoints_2d")  # strings and booleans are not numbers
    try:
        arr = np.asarray(kps)  # numbers only: None, strings, booleans or lists give another dtype or shape
    except ValueError:
        arr = np.asarray(None)
    if arr.ndim != 1 or arr.dtype.kind not in "fi":
        raise BadInputError(f"people[{index}].pose_keypoints_2d holds non-numbers", path)
    arr = arr.astype(np.float64, copy=False)
    if arr.size == BODY25_NUMBERS:
        return body25_to_coco17(arr.reshape(25, 3)), True
    return arr.reshape(17, 3), False


def parse_pose_frame(data: bytes, path: Path) -> PoseFrame:
    """Every person of one OpenPose-layout frame (COCO-17 51 numbers or BODY_25 75 numbers per person)."""
    doc = loads_json(data, path, "pose JSON", allow_nan=True, invalid="malformed pose JSON")
    people = doc.get("people") if isinstance(doc, dict) else None
    if not isinstance(people, list):
        raise BadInputError("pose JSON has no 'people' list", path)
    frame = PoseFrame([], [])
    for index, person in enumerate(people):
        kps = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        arr, body25 = _person_array(kps, index, path)
        frame.body25 = frame.body25 or body25
        if not np.any(arr):  # every number 0 (NaN counts as non-zero): no person
            frame.zero_entries += 1
            continue
        frame.people.append(arr)
        frame.listed.append(index)
    return frame


def parse_pose_json(data: bytes, path: Path) -> np.ndarray | None:
    """The first listed person (not all zero) of one frame as float64 (17, 3), or None when there is none.

    Non-finite coordinates are written as missing joints ``(0, 0, 0)``.
    """
    frame = parse_pose_frame(data, path)
    return nonfinite_to_missing(frame.people[0])[0] if frame.people else None


@dataclass
class PoseSequence:
    """A ``pose-raw`` sequence as read: the chosen person per kept frame and what the reader saw."""

    pose: np.ndarray  # float64 (T, 17, 3)
    frame_numbers: np.ndarray  # int64 (T,): the source frame (file name number, or file position)
    dropped: dict[str, int]
    person: dict[str, int]
    nonfinite_joints: int
    keypoint_format: str


def read_pose_sequence(ref: SequenceRef, files: list[Path] | None = None) -> PoseSequence:
    """Read a ``pose-raw`` sequence, choosing one person per frame (``ref.read.person``).

    Frames with no person (an empty ``people`` list, or only all-zero entries) are skipped as upstream
    does (reason ``no_person``), and so are frames where only people other than the followed subject were
    detected (``no_subject``, ``person = "auto"`` only); a frame that fails to parse is an error naming the
    file (upstream silently skips it). Non-finite coordinates of the chosen person are missing joints,
    counted.
    """
    files = ref.files() if files is None else files
    parsed = [
        parse_pose_frame(read_regular_file(path, MAX_SMALL_FILE_BYTES, "pose JSON"), path) for path in files
    ]
    chosen, counts = select_people([f.people for f in parsed], [f.listed for f in parsed], ref.read.person)
    kept = [t for t, i in enumerate(chosen) if i is not None]
    if not kept:
        raise BadInputError("no frame holds a detected person", ref.folder)
    pose, nonfinite = nonfinite_to_missing(np.stack([parsed[t].people[chosen[t]] for t in kept]))
    numbers = source_frame_numbers(files)
    dropped = {"no_person": len(files) - len(kept) - counts.lost, "no_subject": counts.lost}
    formats = sorted({"body25" if f.body25 else "coco17" for f in parsed})
    return PoseSequence(
        pose=pose.astype(np.float64, copy=False),
        frame_numbers=numbers[kept],
        dropped={k: v for k, v in dropped.items() if v},
        person={**counts.as_dict(), "zero_entries": sum(f.zero_entries for f in parsed)},
        nonfinite_joints=nonfinite,
        keypoint_format="+".join(formats),
    )


def source_frame_numbers(files: list[Path]) -> np.ndarray:
    """int64 (T,): each file's frame number, or its position when some name carries no number or two
    names carry the same one (``1.json`` and ``01.json``; ``inspect`` reports that)."""
    numbers = [frame_number(p) for p in files]
    if any(n is None for n in numbers) or len(set(numbers)) != len(numbers):
        return np.arange(len(files), dtype=np.int64)
    return np.asarray(numbers, dtype=np.int64)


def read_pose_frames(ref: SequenceRef) -> tuple[np.ndarray, dict[str, int]]:
    """A ``pose-raw`` sequence as float64 (T, 17, 3) plus dropped-frame counts by reason."""
    seq = read_pose_sequence(ref)
    return seq.pose, seq.dropped
