"""Per-frame raw readers: PNG silhouette masks and OpenPose-layout keypoint JSON."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from gaitprep.errors import BadInputError
from gaitprep.io.bounds import (
    MAX_SMALL_FILE_BYTES,
    check_png_header,
    json_numbers,
    loads_json,
    read_regular_file,
)
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


def read_png_frames(ref: SequenceRef) -> np.ndarray:
    """All frames of a ``sil-raw`` sequence as uint8 (T, H, W), in sorted file-name order."""
    frames = [read_png(p) for p in ref.files()]
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise BadInputError(f"frames have different sizes {sorted(shapes)}", ref.folder)
    return np.stack(frames)


def parse_pose_json(data: bytes, path: Path) -> np.ndarray | None:
    """Person 0 of one OpenPose-layout frame as float64 (17, 3), or None when no person was detected."""
    doc = loads_json(data, path, "pose JSON", allow_nan=True, invalid="malformed pose JSON")
    people = doc.get("people") if isinstance(doc, dict) else None
    if not isinstance(people, list):
        raise BadInputError("pose JSON has no 'people' list", path)
    if not people:
        return None
    person = people[0]
    kps = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
    if not isinstance(kps, list) or len(kps) != POSE_NUMBERS:
        n = len(kps) if isinstance(kps, list) else "no"
        raise BadInputError(f"people[0].pose_keypoints_2d has {n} numbers, expected {POSE_NUMBERS}", path)
    json_numbers(kps, path, "pose_keypoints_2d")  # strings and booleans are not numbers
    try:
        arr = np.asarray(kps, dtype=np.float64).reshape(17, 3)
    except (TypeError, ValueError):
        raise BadInputError("pose_keypoints_2d holds non-numbers", path) from None
    if not np.isfinite(arr).all():
        raise BadInputError("pose_keypoints_2d holds NaN or infinite values", path)
    return arr


def read_pose_frames(ref: SequenceRef) -> tuple[np.ndarray, dict[str, int]]:
    """A ``pose-raw`` sequence as float64 (T, 17, 3) plus dropped-frame counts by reason.

    Frames with an empty ``people`` list are skipped as upstream does (reason ``no_person``); a frame
    that fails to parse is an error naming the file (upstream silently skips it).
    """
    frames, dropped = [], 0
    for path in ref.files():
        arr = parse_pose_json(read_regular_file(path, MAX_SMALL_FILE_BYTES, "pose JSON"), path)
        if arr is None:
            dropped += 1
        else:
            frames.append(arr)
    if not frames:
        raise BadInputError("no frame holds a detected person", ref.folder)
    return np.stack(frames), ({"no_person": dropped} if dropped else {})
