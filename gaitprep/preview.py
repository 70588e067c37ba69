"""PNG previews of a dataset: a few sequences per class, frames x channels, keypoints overlaid.

A person should see at a glance whether maps are centred and registered: each frame shows every channel
in grey and, for skeleton maps, a colour overlay (limb red, joint green: registered maps look yellow where
they overlap) with the source keypoints drawn as dots when the crop is the fixed full canvas.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from gaitprep.errors import BadInputError
from gaitprep.io.atomic import atomic_write_bytes
from gaitprep.io.verified import read_sequence_verified
from gaitprep.manifest import Manifest, SequenceRecord, resolve_manifest_path
from gaitprep.skeleton import CLASS_ORDER
from gaitprep.verify import quick_check

_TILE_GAP = 2
_LABEL_W = 150
_CLASS_BGR = {"negative": (80, 170, 60), "neutral": (40, 170, 230), "positive": (60, 60, 220)}


def _choose(manifest: Manifest, per_class: int) -> list[SequenceRecord]:
    chosen = []
    for label in CLASS_ORDER:
        recs = [r for r in manifest.records if r.label == label]
        chosen += recs[:per_class]
    return chosen


def _keypoints_on_output(
    manifest: Manifest, record: SequenceRecord, frame_idx: np.ndarray
) -> np.ndarray | None:
    """Source joints in output pixels (frames, 17, 3) for full-canvas skeleton maps; None otherwise."""
    from gaitprep.params import heatmap_spec

    if manifest.modality != "skeleton_map" or manifest.source.kind != "tree":
        return None
    spec = heatmap_spec(manifest)
    if spec.crop != "full_canvas":
        return None
    from gaitprep.heatmaps import canvas_pose
    from gaitprep.io.load import load_sequence
    from gaitprep.io.tree import SequenceRef

    folder = Path(manifest.source.root) / record.id / record.class_folder / record.view
    if not folder.is_dir():
        return None
    from gaitprep.frame_ids import from_runs
    from gaitprep.io.read_options import ReadOptions

    # Read the tree as the builder did (frame order, person selection).
    read = ReadOptions(**manifest.params.get("read", {}))
    seq = load_sequence(
        SequenceRef(
            record.id, record.label, record.view, record.class_folder, folder, manifest.source.release, read
        )
    )
    q, valid = canvas_pose(spec, seq.array)
    if record.source_frames and seq.frame_numbers is not None:  # the map frames, by source frame id
        position = {int(n): k for k, n in enumerate(seq.frame_numbers)}
        wanted = [position.get(int(i)) for i in from_runs(record.source_frames)]
        if any(k is None for k in wanted):
            return None
        q, valid = q[wanted], valid[wanted]
    if q.shape[0] != record.frames:
        return None
    ratio = spec.size / spec.canvas
    out = q[frame_idx].copy()
    out[..., :2] = (out[..., :2] + 0.5) * ratio - 0.5  # pixel centres at integers, as in the renderer
    out[~valid[frame_idx]] = 0
    return out


def _tile(frame: np.ndarray, scale: int, kps: np.ndarray | None) -> list[np.ndarray]:
    """frame: uint8 (C, H, W) -> BGR tiles: each channel in grey, plus a colour overlay when C >= 2."""
    tiles = []
    for c in range(frame.shape[0]):
        grey = cv2.resize(frame[c], None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        tiles.append(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    if frame.shape[0] >= 2:
        limb, joint = frame[-2], frame[-1]
        colour = np.stack([np.zeros_like(limb), joint, limb], axis=-1)
        colour = cv2.resize(colour, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        if kps is not None:
            for x, y, c in kps:
                if c > 0:
                    cv2.circle(
                        colour,
                        (int(round((x + 0.5) * scale - 0.5)), int(round((y + 0.5) * scale - 0.5))),
                        2,
                        (255, 200, 0),
                        -1,
                        cv2.LINE_AA,
                    )
        tiles.append(colour)
    return tiles


def render_preview(
    dataset: str | Path, sequences_per_class: int = 2, frames: int = 6, scale: int = 3
) -> np.ndarray:
    """A BGR uint8 montage: one row per sequence, ``frames`` evenly spaced frames x channel tiles."""
    mpath = resolve_manifest_path(dataset)
    manifest = quick_check(mpath)
    root = mpath.parent
    primary = manifest.layout.primary
    if not manifest.layout.arrays[primary].per_frame:
        raise BadInputError(f"{manifest.modality} datasets hold no frames to preview", mpath)
    rows = []
    for rec in _choose(manifest, sequences_per_class):
        arr = read_sequence_verified(root, manifest, rec, primary)
        arr = arr[:, None] if arr.ndim == 3 else arr
        idx = np.unique(np.linspace(0, arr.shape[0] - 1, num=min(frames, arr.shape[0])).round().astype(int))
        kps = _keypoints_on_output(manifest, rec, idx)
        tiles = []
        for j, t in enumerate(idx):
            tiles += _tile(arr[t], scale, None if kps is None else kps[j])
        gap = np.full((tiles[0].shape[0], _TILE_GAP, 3), 40, np.uint8)
        body = np.concatenate([x for tile in tiles for x in (tile, gap)][:-1], axis=1)
        label = np.full((body.shape[0], _LABEL_W, 3), 24, np.uint8)
        colour = _CLASS_BGR[rec.label]
        cv2.putText(label, rec.label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 1, cv2.LINE_AA)
        cv2.putText(
            label,
            f"{rec.id} {rec.view}",
            (8, 48),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (220, 220, 220),
            1,
            cv2.LINE_AA,
        )
        cv2.putText(
            label,
            f"{rec.frames} frames",
            (8, 68),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (220, 220, 220),
            1,
            cv2.LINE_AA,
        )
        rows.append(np.concatenate([label, body], axis=1))
    if not rows:
        raise BadInputError("the dataset holds no sequences", mpath)
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, _TILE_GAP), (0, width - r.shape[1]), (0, 0))) for r in rows]
    header = np.full((34, width, 3), 24, np.uint8)
    channels = ", ".join(manifest.layout.arrays[primary].channels)
    extra = (
        " + overlay (limb red, joint green, keypoints blue)"
        if len(manifest.layout.arrays[primary].channels) >= 2
        else ""
    )
    cv2.putText(
        header,
        f"{manifest.name}: {manifest.modality} [{channels}]{extra}",
        (8, 22),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.55,
        (240, 240, 240),
        1,
        cv2.LINE_AA,
    )
    return np.concatenate([header, *rows], axis=0)


def write_preview(dataset: str | Path, out: str | Path, **kwargs) -> dict:
    """Render the montage of ``dataset`` and write it to the PNG file ``out`` (never inside a dataset)."""
    from gaitprep.ownership import check_output_path

    check_output_path(out, inputs=[dataset], kind="file")
    image = render_preview(dataset, **kwargs)
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise BadInputError("could not encode the preview PNG", out)
    atomic_write_bytes(Path(out), data.tobytes())
    return {"path": str(out), "width": int(image.shape[1]), "height": int(image.shape[0])}
