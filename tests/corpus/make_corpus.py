"""Build the corpus of bad input, hostile files and tampered datasets from code (no binaries committed).

Every case is a small directory under ``DEST/<case>/`` written by one builder function, plus a ``Case``
record that says which commands it applies to and what each must do: the exit code (1 bad input, 3
verification failed), the file or id the one-line error must name, and the problem it must state.

Usage as a script (writes every case, or the named ones, and ``DEST/index.json``)::

    python tests/corpus/make_corpus.py DEST [CASE ...]

Usage from tests::

    from corpus.make_corpus import CASES, build_case
    case = build_case("truncated_pose_pickle", tmp_path)

Input trees follow the OpenGait layout ``<root>/<id>/<class>/<view>/`` (domain reference §1.3):
pose-pkl ``float64 (T, 17, 3)`` x, y, confidence in image px; sil-pkl ``uint8 (T, 64, 64)``; pose-raw one
OpenPose-style JSON per frame; sil-raw one 8-bit PNG mask per frame. Good sequences are pure functions
of (index, frames), so two builds write byte-identical files. The bad file of a case is always the LAST
sequence (``00003``), so layout discovery (which reads the first leaf) sees a good tree first.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

VIEW = "000_180"
N_SEQ = 4
FRAMES = 8
IDS = tuple(f"{i:05d}" for i in range(N_SEQ))
LABELS = ("negative", "neutral", "positive")
TRAIN_IDS = IDS[:3]
TEST_IDS = IDS[3:]
BAD_ID = IDS[-1]  # the sequence a case damages (the last, 00003)
MARKER_NAME = "PWNED"  # a hostile pickle that ran would create this file in its case directory
OUT = "{out}"  # placeholder in a command line: a fresh output path per run

EXIT_BAD_INPUT = 1
EXIT_VERIFY_FAILED = 3


@dataclass(frozen=True)
class Run:
    """One command line a case applies to and what it must do.

    ``argv[0]`` is ``gaitprep`` or ``gaitmodels``; ``{out}`` stands for a fresh output path that must not
    exist afterwards. ``report`` commands (``inspect``, ``verify-manifest``, ``list``) list every problem on stdout
    by design, so their problem text is looked for there instead of in a single stderr line.
    """

    argv: tuple[str, ...]
    exit_code: int = EXIT_BAD_INPUT
    report: bool = False
    culprit: str | None = None  # overrides the case's culprit for this command

    @property
    def label(self) -> str:
        return " ".join(self.argv[:2])


@dataclass(frozen=True)
class Case:
    """A bad input and the behaviour every command that reads it must show.

    ``culprit``: text the error must contain (the offending file's path, folder or sequence id).
    ``problem``: a regular expression the error must match (the problem, in words).
    """

    name: str
    about: str
    root: Path
    culprit: str
    problem: str
    runs: tuple[Run, ...]
    marker: Path | None = None

    def to_json(self) -> dict:
        doc = asdict(self)
        doc["root"] = str(self.root)
        doc["marker"] = str(self.marker) if self.marker else None
        return doc


# --- good content ----------------------------------------------------------------------------------------

# A standing person facing the camera, COCO-17 order, image px (x right, y down) in a 320x240 frame.
_STAND = np.array(
    [
        (160, 40), (154, 34), (166, 34), (146, 38), (174, 38),  # nose, eyes, ears
        (140, 70), (180, 70), (132, 105), (188, 105), (128, 138), (192, 138),  # shoulders, elbows, wrists
        (148, 140), (172, 140), (146, 182), (174, 182), (145, 222), (175, 222),  # hips, knees, ankles
    ],
    dtype=np.float64,
)  # fmt: skip


def pose_sequence(index: int, frames: int = FRAMES) -> np.ndarray:
    """``float64 (frames, 17, 3)``: a walking-in-place person, x, y in image px, confidence in [0.7, 1)."""
    rng = np.random.default_rng([index, 17])
    t = np.arange(frames, dtype=np.float64)[:, None]
    pose = np.empty((frames, 17, 3))
    pose[..., 0] = _STAND[:, 0] + 2.0 * index + 3.0 * np.sin(t / 2.0)
    pose[..., 1] = _STAND[:, 1] + 1.5 * np.cos(t / 3.0) + rng.normal(0.0, 0.5, (frames, 17))
    pose[:, 5, 1] += index  # a shoulder height difference that grows with the index
    pose[..., 2] = rng.uniform(0.7, 1.0, (frames, 17))
    return pose


def mask_frames(index: int, frames: int = FRAMES, width: int = 96, height: int = 128) -> np.ndarray:
    """``uint8 (frames, height, width)`` 0/255 masks: a body-shaped blob well above the 10,000 grey-sum floor."""
    out = np.zeros((frames, height, width), np.uint8)
    for f in range(frames):
        x = 30 + (f + index) % 8
        cv2.ellipse(out[f], (x + 10, 22), (9, 11), 0, 0, 360, 255, -1)  # head
        out[f, 32:80, x : x + 22] = 255  # trunk
        out[f, 80:120, x + 1 : x + 9] = 255  # legs
        out[f, 80:120, x + 13 : x + 21 - (f % 3)] = 255
    return out


def silhouette_sequence(index: int, frames: int = FRAMES) -> np.ndarray:
    """``uint8 (frames, 64, 64)`` silhouettes as an upstream sil-pkl holds them."""
    out = np.zeros((frames, 64, 64), np.uint8)
    for f in range(frames):
        x = 22 + (f + index) % 6
        out[f, 4:60, x : x + 18] = 255
    return out


def pose_json(frame: np.ndarray | None) -> bytes:
    """One OpenPose-layout frame: ``{"people": [{"pose_keypoints_2d": [51 numbers]}]}``."""
    people = [] if frame is None else [{"pose_keypoints_2d": [float(v) for v in frame.reshape(-1)]}]
    return json.dumps({"version": 1.3, "people": people}).encode()


def png_bytes(mask: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", mask)
    assert ok
    return buf.tobytes()


def seq_folder(root: Path, index: int) -> Path:
    return Path(root) / f"{index:05d}" / LABELS[index % 3] / VIEW


def write_tree(root: Path, layout: str, n: int = N_SEQ, frames: int = FRAMES) -> Path:
    """Write a good ``layout`` tree (pose-pkl, pose-raw, sil-pkl or sil-raw) of ``n`` sequences."""
    for i in range(n):
        folder = seq_folder(root, i)
        folder.mkdir(parents=True, exist_ok=True)
        if layout == "pose-pkl":
            write_pickle(folder / f"{VIEW}.pkl", pose_sequence(i, frames))
        elif layout == "sil-pkl":
            write_pickle(folder / f"{VIEW}.pkl", silhouette_sequence(i, frames))
        elif layout == "pose-raw":
            for f, frame in enumerate(pose_sequence(i, frames)):
                (folder / f"{f + 1:06d}.json").write_bytes(pose_json(frame))
        elif layout == "sil-raw":
            for f, mask in enumerate(mask_frames(i, frames)):
                (folder / f"{f + 1:06d}.png").write_bytes(png_bytes(mask))
        else:
            raise ValueError(layout)
    return Path(root)


def write_pickle(path: Path, obj: object) -> None:
    """Plain pickle of ``obj`` (protocol 4, as OpenGait trees hold them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=4))


def write_partition_file(path: Path, train: list[str], test: list[str]) -> Path:
    path.write_text(json.dumps({"TRAIN_SET": list(train), "TEST_SET": list(test)}, indent=4) + "\n")
    return path


def bad_pkl(root: Path) -> Path:
    return seq_folder(root, N_SEQ - 1) / f"{VIEW}.pkl"


# --- command lines ---------------------------------------------------------------------------------------


def cmd(*parts: str | Path) -> tuple[str, ...]:
    """An argv from words and paths: a ``str`` part is split on spaces, a ``Path`` part is kept whole."""
    argv: list[str] = []
    for part in parts:
        argv += [str(part)] if isinstance(part, Path) else part.split()
    return tuple(argv)


TINY_TRAIN = "--model sconet-mt-ske --widths 4,8,16,32 --batch 2,2 --frames 4 --iterations 1 --device cpu -q"


def pose_runs(tree: Path, partition: Path) -> tuple[Run, ...]:
    runs = [
        Run(cmd("gaitprep render-heatmaps --input", tree, f"--out {OUT} -q")),
        Run(cmd("gaitprep pav --input", tree, "--partition", partition, f"--out {OUT} -q")),
    ]
    runs.append(Run(cmd("gaitprep inspect", tree, "-q"), report=True))
    return tuple(runs)


def sil_runs(tree: Path) -> tuple[Run, ...]:
    runs = [Run(cmd("gaitprep silhouettes --input", tree, f"--out {OUT} -q"))]
    runs.append(Run(cmd("gaitprep inspect", tree, "-q"), report=True))
    return tuple(runs)


def dataset_runs(dataset: Path, checkpoint: Path | None, code: int, verify_report: bool) -> tuple[Run, ...]:
    """Commands that read a built dataset: verify, export, preview, train, evaluate, predict."""
    runs = [
        Run(cmd("gaitprep verify-manifest", dataset), code, report=verify_report),
        Run(cmd("gaitprep export", dataset, f"--to croissant {OUT}"), code),
        Run(cmd("gaitprep export", dataset, f"--to hdf5 {OUT}"), code),
        Run(cmd("gaitprep preview", dataset, f"--out {OUT}"), code),
        Run(cmd("gaitmodels train --manifest", dataset, f"{TINY_TRAIN} --out {OUT}"), code),
    ]
    if checkpoint is not None:
        runs += [
            Run(
                cmd(
                    "gaitmodels evaluate --checkpoint",
                    checkpoint,
                    "--manifest",
                    dataset,
                    f"--device cpu --out {OUT} -q",
                ),
                code,
            ),  # fmt: skip
            Run(cmd("gaitmodels predict --checkpoint", checkpoint, "--input", dataset, "--device cpu"), code),
        ]
    return tuple(runs)


# --- shared base: one good pose tree, partition, dataset and checkpoint per corpus -----------------------


def base(dest: Path) -> dict[str, Path]:
    """Good inputs shared by the dataset cases, built once under ``DEST/_base`` (read-only for cases)."""
    root = Path(dest) / "_base"
    paths = {
        "pose": root / "pose-pkl",
        "partition": root / "partition.json",
        "maps": root / "maps",
        "maps_pkl": root / "maps_pkl",
        "run": root / "run",
    }
    if (root / ".complete").is_file():
        return paths
    if root.exists():
        shutil.rmtree(root)
    write_tree(paths["pose"], "pose-pkl")
    write_partition_file(paths["partition"], list(TRAIN_IDS), list(TEST_IDS))
    from gaitprep.build.datasets import BuildOptions, build_heatmaps
    from gaitprep.heatmaps.spec import preset
    from gaitprep.partition import load_partition

    part = load_partition(paths["partition"])
    build_heatmaps(
        paths["pose"], paths["maps"], preset("opengait"), options=BuildOptions(partition=part, quiet=True)
    )
    build_heatmaps(
        paths["pose"],
        paths["maps_pkl"],
        preset("opengait"),
        options=BuildOptions(partition=part, fmt="pkl", quiet=True),
    )
    (root / ".complete").write_text("")
    return paths


def base_checkpoint(dest: Path) -> Path:
    """A one-iteration tiny ScoNet-MT-ske checkpoint trained on the base maps (for evaluate/predict)."""
    paths = base(dest)
    ckpt = paths["run"] / "checkpoints" / "last.pt"
    if ckpt.is_file():
        return ckpt
    from gaitmodels.train import TrainConfig, train

    cfg = TrainConfig(
        model="sconet-mt-ske",
        iterations=1,
        batch_p=2,
        batch_k=2,
        frames=4,
        widths=(4, 8, 16, 32),
        save_every=1,
    )
    train(cfg, paths["maps"], paths["run"], device="cpu", quiet=True)
    return ckpt


def copy_dataset(dest: Path, case_dir: Path, which: str = "maps") -> Path:
    out = case_dir / "dataset"
    shutil.copytree(base(dest)[which], out, symlinks=True)
    return out


def reseal(dataset: Path, edit: Callable[[dict], None]) -> None:
    """Edit ``dataset``'s manifest JSON and recompute its self-digest, as a careful forger would."""
    from gaitprep.manifest import Manifest, manifest_bytes, seal

    mpath = dataset / "manifest.json"
    doc = json.loads(mpath.read_text())
    edit(doc)
    mpath.write_bytes(manifest_bytes(seal(Manifest.model_validate(doc))))


# --- hostile pickles --------------------------------------------------------------------------------------


class CallOnLoad:
    """Pickles as ``fn(*args)``: how a hostile pickle makes the loader call a function."""

    def __init__(self, fn: Callable, args: tuple):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _touch_command(marker: Path) -> str:
    return f"{sys.executable} -c \"open(r'{marker}', 'w').close()\""


def hostile_pickle_bytes(kind: str, marker: Path) -> bytes:
    """A pickle that, loaded with a plain ``pickle.loads``, creates ``marker``.

    Kinds: ``os_system``, ``subprocess_popen``, ``builtins_eval``, ``builtins_import`` (``__import__('os')``
    then ``getattr(os, 'system')``, hand-assembled so ``__import__`` is the first global), ``object_array``
    (a numpy object array whose item is an ``os.system`` payload), ``nested_in_dict`` (the payload as a
    dict value), ``persistent_id`` (a PERSID opcode), ``benign_object_array`` (an object array of ints:
    harmless but still refused, since its items are arbitrary objects), and two arrays whose bytes do not
    come from the stream (``marker`` unused): ``ndarray_no_buffer`` (``numpy.ndarray(shape)``, 36 bytes that
    become 40 MB of uninitialised memory) and ``reconstruct_no_data`` (``_reconstruct`` with a real shape
    and no ``__setstate__``).
    """
    import builtins
    import subprocess

    m = str(marker)
    if kind == "os_system":
        return pickle.dumps(CallOnLoad(os.system, (_touch_command(marker),)), protocol=4)
    if kind == "subprocess_popen":
        return pickle.dumps(
            CallOnLoad(subprocess.Popen, ([sys.executable, "-c", f"open(r'{m}', 'w').close()"],))
        )
    if kind == "builtins_eval":
        return pickle.dumps(CallOnLoad(builtins.eval, (f"open(r'{m}', 'w').close()",)), protocol=2)
    if kind == "builtins_import":
        cmd = _touch_command(marker).replace("\\", "\\\\").replace("'", "\\'")
        return (
            b"cbuiltins\n__import__\n(S'os'\ntRp0\n0"  # os = __import__('os'), kept in memo 0
            b"cbuiltins\ngetattr\n(g0\nS'system'\ntR"  # getattr(os, 'system')
            + f"(S'{cmd}'\ntR.".encode()  # (...)(cmd)
        )
    if kind == "object_array":
        arr = np.empty(1, dtype=object)
        arr[0] = CallOnLoad(os.system, (_touch_command(marker),))
        return pickle.dumps(arr, protocol=4)
    if kind == "nested_in_dict":
        return pickle.dumps({"pose": CallOnLoad(os.system, (_touch_command(marker),))}, protocol=4)
    if kind == "persistent_id":
        return b"\x80\x04P" + b"evil\n" + b"."  # PERSID: the loader must not hand it to anything
    if kind == "benign_object_array":
        return pickle.dumps(np.array([1, 2, 3], dtype=object), protocol=4)
    if kind == "ndarray_no_buffer":  # numpy.ndarray((100000, 17, 3)): 40 MB of uninitialised memory
        return b"cnumpy\nndarray\n((I100000\nI17\nI3\nttR."
    if kind == "reconstruct_no_data":  # _reconstruct(ndarray, (100000, 17, 3), b'd') and no __setstate__
        return b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I100000\nI17\nI3\ntC\x01dtR."
    raise ValueError(kind)


HOSTILE_KINDS = (
    "os_system",
    "subprocess_popen",
    "builtins_eval",
    "builtins_import",
    "object_array",
    "nested_in_dict",
    "persistent_id",
    "benign_object_array",
    "ndarray_no_buffer",
    "reconstruct_no_data",
)
# Kinds whose payload really runs under a plain pickle.loads (the corpus tests prove it does).
LIVE_KINDS = (
    "os_system",
    "subprocess_popen",
    "builtins_eval",
    "builtins_import",
    "object_array",
    "nested_in_dict",
)


# --- the cases -------------------------------------------------------------------------------------------

Builder = Callable[[Path, Path], Case]
CASES: dict[str, Builder] = {}


def case(fn: Builder) -> Builder:
    """Register a builder ``fn(dest, case_dir) -> Case`` under its function name."""
    CASES[fn.__name__] = fn
    return fn


def _partition(d: Path, train: tuple[str, ...] = TRAIN_IDS, test: tuple[str, ...] = TEST_IDS) -> Path:
    return write_partition_file(d / "partition.json", list(train), list(test))


def _pose_case(d: Path, about: str, arr: object, problem: str) -> Case:
    tree = write_tree(d / "pose-pkl", "pose-pkl")
    write_pickle(bad_pkl(tree), arr)
    return Case(d.name, about, d, str(bad_pkl(tree)), problem, pose_runs(tree, _partition(d)))


def _sil_case(d: Path, about: str, arr: object, problem: str) -> Case:
    tree = write_tree(d / "sil-pkl", "sil-pkl")
    write_pickle(bad_pkl(tree), arr)
    return Case(d.name, about, d, str(bad_pkl(tree)), problem, sil_runs(tree))


def _damaged_file_case(
    d: Path, layout: str, about: str, problem: str, damage: Callable[[Path], Path]
) -> Case:
    """Write a good ``layout`` tree, let ``damage(last sequence folder)`` return the file it broke."""
    tree = write_tree(d / layout, layout)
    culprit = damage(seq_folder(tree, N_SEQ - 1))
    runs = pose_runs(tree, _partition(d)) if layout.startswith("pose") else sil_runs(tree)
    return Case(d.name, about, d, str(culprit), problem, runs)


# pickles of the wrong kind, shape or content


@case
def truncated_pose_pickle(dest: Path, d: Path) -> Case:
    def damage(folder: Path) -> Path:
        p = folder / f"{VIEW}.pkl"
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
        return p

    return _damaged_file_case(d, "pose-pkl", "a pose pkl cut in half", r"corrupt or truncated pickle", damage)


@case
def truncated_sil_pickle(dest: Path, d: Path) -> Case:
    def damage(folder: Path) -> Path:
        p = folder / f"{VIEW}.pkl"
        p.write_bytes(p.read_bytes()[:100])
        return p

    return _damaged_file_case(
        d, "sil-pkl", "a sil pkl cut to 100 bytes", r"corrupt or truncated pickle", damage
    )


@case
def empty_pickle_file(dest: Path, d: Path) -> Case:
    def damage(folder: Path) -> Path:
        (folder / f"{VIEW}.pkl").write_bytes(b"")
        return folder / f"{VIEW}.pkl"

    return _damaged_file_case(d, "pose-pkl", "a 0-byte pose pkl", r"corrupt or truncated pickle", damage)


@case
def pose_not_an_array(dest: Path, d: Path) -> Case:
    return _pose_case(
        d, "a pkl holding a list of lists", [[1.0, 2.0, 3.0]] * 17, r"holds list, expected a numpy array"
    )


@case
def pose_shape_t_17_2(dest: Path, d: Path) -> Case:
    return _pose_case(
        d, "(T, 17, 2): no confidences", np.ones((8, 17, 2)), r"shape \(8, 17, 2\), expected \(T, 17, 3\)"
    )


@case
def pose_shape_t_64(dest: Path, d: Path) -> Case:
    return _pose_case(d, "(T, 64) float", np.ones((8, 64)), r"shape \(8, 64\), expected \(T, 17, 3\)")


@case
def pose_zero_frames(dest: Path, d: Path) -> Case:
    return _pose_case(d, "(0, 17, 3)", np.zeros((0, 17, 3)), r"0 frames")


@case
def pose_shape_wrong_in_first_file(dest: Path, d: Path) -> Case:
    """The wrong shape in the FIRST sequence, the one layout discovery reads: the error must still name it."""
    tree = write_tree(d / "pose-pkl", "pose-pkl")
    first = seq_folder(tree, 0) / f"{VIEW}.pkl"
    write_pickle(first, np.ones((8, 17, 2)))
    runs = pose_runs(tree, _partition(d))
    return Case(d.name, "(T, 17, 2) in the first pose pkl", d, str(first), r"shape \(8, 17, 2\)", runs)


@case
def float_silhouettes(dest: Path, d: Path) -> Case:
    arr = silhouette_sequence(N_SEQ - 1).astype(np.float32) / 255.0
    return _sil_case(d, "float32 silhouettes in [0, 1]", arr, r"dtype float32, expected uint8")


@case
def silhouettes_zero_frames(dest: Path, d: Path) -> Case:
    return _sil_case(d, "uint8 (0, 64, 64)", np.zeros((0, 64, 64), np.uint8), r"0 frames")


@case
def silhouettes_wrong_size(dest: Path, d: Path) -> Case:
    return _sil_case(d, "uint8 (T, 128, 88)", np.zeros((8, 128, 88), np.uint8), r"shape \(8, 128, 88\)")


# raw frames: JSON and PNG


def _json_value(frame_no: int, value: float) -> Callable[[Path], Path]:
    def damage(folder: Path) -> Path:
        frame = folder / f"{frame_no:06d}.json"
        doc = json.loads(frame.read_text())
        doc["people"][0]["pose_keypoints_2d"][frame_no] = value
        frame.write_text(json.dumps(doc))  # json.dumps writes the bare NaN / -Infinity tokens json reads
        return frame

    return damage


@case
def malformed_pose_json(dest: Path, d: Path) -> Case:
    def damage(folder: Path) -> Path:
        frame = folder / "000002.json"
        frame.write_bytes(frame.read_bytes()[:-7])
        return frame

    return _damaged_file_case(d, "pose-raw", "a pose JSON frame cut short", r"malformed pose JSON", damage)


@case
def pose_json_wrong_length(dest: Path, d: Path) -> Case:
    def damage(folder: Path) -> Path:
        frame = folder / "000004.json"
        doc = json.loads(frame.read_text())
        doc["people"][0]["pose_keypoints_2d"] = doc["people"][0]["pose_keypoints_2d"][:34]
        frame.write_text(json.dumps(doc))
        return frame

    return _damaged_file_case(d, "pose-raw", "34 numbers instead of 51", r"34 numbers, expected 51", damage)


@case
def no_person_in_any_frame(dest: Path, d: Path) -> Case:
    def damage(folder: Path) -> Path:
        for frame in folder.glob("*.json"):
            frame.write_bytes(pose_json(None))
        return folder

    return _damaged_file_case(
        d, "pose-raw", "every frame has an empty people list", r"no frame holds a detected person", damage
    )


def _png(name: str, data: Callable[[bytes], bytes]) -> Callable[[Path], Path]:
    def damage(folder: Path) -> Path:
        frame = folder / name
        frame.write_bytes(data(frame.read_bytes()))
        return frame

    return damage


@case
def corrupt_png(dest: Path, d: Path) -> Case:
    damage = _png("000004.png", lambda b: b[:16] + bytes(64))  # signature and IHDR start, then zeros
    return _damaged_file_case(
        d, "sil-raw", "a PNG frame overwritten with zeros", r"not a readable PNG", damage
    )


@case
def truncated_png(dest: Path, d: Path) -> Case:
    damage = _png("000003.png", lambda b: b[: len(b) // 2])
    return _damaged_file_case(d, "sil-raw", "a PNG frame cut in half", r"not a readable PNG", damage)


@case
def non_png_frame(dest: Path, d: Path) -> Case:
    damage = _png("000002.png", lambda b: b"this is not an image\n")
    return _damaged_file_case(d, "sil-raw", "a text file named .png", r"not a readable PNG", damage)


@case
def empty_png(dest: Path, d: Path) -> Case:
    damage = _png("000001.png", lambda b: b"")
    return _damaged_file_case(d, "sil-raw", "a 0-byte PNG", r"not a readable PNG", damage)


@case
def png_sizes_differ(dest: Path, d: Path) -> Case:
    damage = _png("000006.png", lambda b: png_bytes(mask_frames(0, 1, width=80)[0]))
    case_ = _damaged_file_case(
        d, "sil-raw", "one frame 80 px wide, the others 96", r"different sizes", damage
    )
    return Case(case_.name, case_.about, d, str(Path(case_.culprit).parent), case_.problem, case_.runs)


@case
def all_masks_empty(dest: Path, d: Path) -> Case:
    def damage(folder: Path) -> Path:
        for frame in folder.glob("*.png"):
            frame.write_bytes(png_bytes(np.zeros((128, 96), np.uint8)))
        return folder

    case_ = _damaged_file_case(
        d, "sil-raw", "every mask of a sequence is empty", r"every frame was dropped", damage
    )
    return Case(
        case_.name, case_.about, d, case_.culprit, case_.problem, case_.runs[:1]
    )  # inspect: not a problem


# tree structure


@case
def empty_sequence_folder(dest: Path, d: Path) -> Case:
    def damage(folder: Path) -> Path:
        for p in folder.iterdir():
            p.unlink()
        return folder

    return _damaged_file_case(d, "pose-pkl", "a view folder without files", r"empty sequence folder", damage)


@case
def sil_raw_folder_without_png(dest: Path, d: Path) -> Case:
    def damage(folder: Path) -> Path:
        for p in folder.iterdir():
            p.unlink()
        (folder / "notes.txt").write_text("no frames here\n")
        return folder

    return _damaged_file_case(
        d, "sil-raw", "a sil-raw view folder with no PNG", r"empty sequence folder", damage
    )


@case
def unknown_class_folder(dest: Path, d: Path) -> Case:
    tree = write_tree(d / "pose-pkl", "pose-pkl")
    src = seq_folder(tree, N_SEQ - 1).parent
    bad = src.parent / "maybe"
    src.rename(bad)
    runs = pose_runs(tree, _partition(d))
    return Case(d.name, "class folder 'maybe'", d, str(bad), r"unknown class folder 'maybe'", runs)


@case
def id_under_two_classes(dest: Path, d: Path) -> Case:
    tree = write_tree(d / "pose-pkl", "pose-pkl")
    own = LABELS[(N_SEQ - 1) % 3]
    other = LABELS[(N_SEQ) % 3]
    write_pickle(tree / BAD_ID / other / VIEW / f"{VIEW}.pkl", pose_sequence(0))
    culprit = tree / BAD_ID / max(own, other)  # folders are walked in sorted order: the second is named
    problem = rf"id {BAD_ID} appears under two classes"
    about = f"id {BAD_ID} under {own} and {other}"
    return Case(d.name, about, d, str(culprit), problem, pose_runs(tree, _partition(d)))


# partitions


def _partition_runs(
    tree: Path, part: Path, inspect_report: bool = False, strict: bool = False
) -> tuple[Run, ...]:
    flag = " --strict-partition" if strict else ""  # without it, builds skip missing ids with a warning
    return (
        Run(cmd("gaitprep render-heatmaps --input", tree, "--partition", part, f"--out {OUT} -q{flag}")),
        Run(cmd("gaitprep pav --input", tree, "--partition", part, f"--out {OUT} -q{flag}")),
        Run(cmd("gaitprep inspect", tree, "--partition", part, "-q"), report=inspect_report),
    )


@case
def partition_ids_missing(dest: Path, d: Path) -> Case:
    tree = write_tree(d / "pose-pkl", "pose-pkl")
    part = _partition(d, test=(*TEST_IDS, "00099"))
    runs = _partition_runs(tree, part, inspect_report=True, strict=True)
    return Case(d.name, "TEST_SET names 00099, which is not on disk", d, "00099", r"not on disk", runs)


@case
def partition_overlap(dest: Path, d: Path) -> Case:
    tree = write_tree(d / "pose-pkl", "pose-pkl")
    part = _partition(d, test=(*TEST_IDS, IDS[1]))
    problem = rf"in both TRAIN_SET and TEST_SET: {IDS[1]}"
    return Case(
        d.name, f"{IDS[1]} in TRAIN_SET and TEST_SET", d, str(part), problem, _partition_runs(tree, part)
    )


@case
def malformed_partition_json(dest: Path, d: Path) -> Case:
    tree = write_tree(d / "pose-pkl", "pose-pkl")
    part = d / "partition.json"
    part.write_text('{"TRAIN_SET": ["00000", "00001"], "TEST_SET": ["00004",')
    return Case(d.name, "a partition cut short", d, str(part), r"not valid JSON", _partition_runs(tree, part))


@case
def partition_wrong_keys(dest: Path, d: Path) -> Case:
    tree = write_tree(d / "pose-pkl", "pose-pkl")
    part = d / "partition.json"
    part.write_text(json.dumps({"TRAIN": list(TRAIN_IDS), "TEST": list(TEST_IDS)}))
    problem = r"exactly TRAIN_SET and TEST_SET"
    return Case(
        d.name, "TRAIN/TEST instead of TRAIN_SET/TEST_SET", d, str(part), problem, _partition_runs(tree, part)
    )


# manifests and datasets


@case
def malformed_manifest_json(dest: Path, d: Path) -> Case:
    ds = copy_dataset(dest, d)
    m = ds / "manifest.json"
    m.write_bytes(m.read_bytes()[:-200])
    runs = (
        *dataset_runs(ds, base_checkpoint(dest), EXIT_BAD_INPUT, verify_report=False),
        Run(cmd("gaitprep diff-manifest", ds, base(dest)["maps"])),
        Run(cmd("gaitprep list", d), report=True),  # a catalogue lists every dataset, then exits non-zero
    )
    return Case(d.name, "manifest.json cut short", d, str(m), r"not valid JSON", runs)


@case
def manifest_wrong_schema(dest: Path, d: Path) -> Case:
    ds = copy_dataset(dest, d)
    m = ds / "manifest.json"
    doc = json.loads(m.read_text())
    doc["records"][0]["frames"] = "many"
    m.write_text(json.dumps(doc))
    runs = (
        *dataset_runs(ds, base_checkpoint(dest), EXIT_BAD_INPUT, verify_report=False),
        Run(cmd("gaitprep diff-manifest", ds, base(dest)["maps"])),
    )
    return Case(d.name, "a record's frames is a string", d, str(m), r"does not match the schema", runs)


@case
def manifest_edited(dest: Path, d: Path) -> Case:
    ds = copy_dataset(dest, d)
    m = ds / "manifest.json"
    doc = json.loads(m.read_text())
    doc["records"][0]["label"] = "positive" if doc["records"][0]["label"] != "positive" else "negative"
    m.write_text(json.dumps(doc, indent=2))
    runs = dataset_runs(ds, base_checkpoint(dest), EXIT_VERIFY_FAILED, verify_report=True)
    return Case(
        d.name, "a label changed by hand after writing", d, "manifest.json", r"edited after writing", runs
    )


def _first_file(ds: Path, index: int = -1) -> str:
    from gaitprep.manifest import load_manifest

    return load_manifest(ds).files[index].path


@case
def data_file_changed(dest: Path, d: Path) -> Case:
    ds = copy_dataset(dest, d)
    rel = _first_file(ds)
    data = bytearray((ds / rel).read_bytes())
    data[len(data) // 2] ^= 0x01
    (ds / rel).write_bytes(bytes(data))
    # Same size: only hashing can see it. verify-manifest reports it here; the consumers, which hash what
    # they read, meet such files in zarr_chunk_bit_flipped and pickles_swapped.
    runs = (Run(cmd("gaitprep verify-manifest", ds), EXIT_VERIFY_FAILED, report=True),)
    return Case(d.name, "one bit flipped in a data file", d, rel, r"sha256 differs", runs)


@case
def data_file_truncated(dest: Path, d: Path) -> Case:
    ds = copy_dataset(dest, d)
    rel = _first_file(ds)
    (ds / rel).write_bytes((ds / rel).read_bytes()[:-3])
    runs = dataset_runs(ds, base_checkpoint(dest), EXIT_VERIFY_FAILED, verify_report=True)
    return Case(d.name, "a data file lost its last 3 bytes", d, rel, r"truncated", runs)


@case
def data_file_missing(dest: Path, d: Path) -> Case:
    ds = copy_dataset(dest, d)
    rel = _first_file(ds, 0)
    (ds / rel).unlink()
    runs = dataset_runs(ds, base_checkpoint(dest), EXIT_VERIFY_FAILED, verify_report=True)
    return Case(d.name, "a listed file deleted", d, rel, r"missing", runs)


@case
def extra_file_in_dataset(dest: Path, d: Path) -> Case:
    ds = copy_dataset(dest, d)
    (ds / "data.zarr" / "notes.txt").write_text("added later\n")
    runs = dataset_runs(ds, base_checkpoint(dest), EXIT_VERIFY_FAILED, verify_report=True)
    return Case(d.name, "a file nobody listed", d, "data.zarr/notes.txt", r"not listed", runs)


@case
def manifest_path_dotdot(dest: Path, d: Path) -> Case:
    ds = copy_dataset(dest, d)
    (d / "secret.txt").write_text("outside the dataset\n")
    reseal(ds, lambda doc: doc["files"].append({"path": "../secret.txt", "bytes": 20, "sha256": "0" * 64}))
    runs = dataset_runs(ds, base_checkpoint(dest), EXIT_VERIFY_FAILED, verify_report=True)
    return Case(d.name, "files[] names ../secret.txt (resealed)", d, "../secret.txt", r"escapes", runs)


@case
def manifest_path_absolute(dest: Path, d: Path) -> Case:
    ds = copy_dataset(dest, d)
    target = d / "secret.txt"
    target.write_text("outside the dataset\n")
    reseal(ds, lambda doc: doc["files"].append({"path": str(target), "bytes": 20, "sha256": "0" * 64}))
    runs = dataset_runs(ds, base_checkpoint(dest), EXIT_VERIFY_FAILED, verify_report=True)
    return Case(d.name, "files[] names an absolute path (resealed)", d, str(target), r"absolute", runs)


@case
def symlink_outside(dest: Path, d: Path) -> Case:
    ds = copy_dataset(dest, d)
    rel = _first_file(ds)
    outside = d / "outside.bin"
    shutil.copyfile(ds / rel, outside)  # same bytes: only the link itself is wrong
    (ds / rel).unlink()
    os.symlink(outside, ds / rel)
    runs = dataset_runs(ds, base_checkpoint(dest), EXIT_VERIFY_FAILED, verify_report=True)
    problem = r"outside the dataset directory"
    return Case(d.name, "a data file replaced by a link to an identical file outside", d, rel, problem, runs)


@case
def hostile_pickle_in_dataset(dest: Path, d: Path) -> Case:
    """A pkl-format dataset whose first pickle is swapped for a same-size ``os.system`` payload.

    Size-only (quick) checks pass; the verified read hashes the bytes before unpickling, so train and export
    refuse the file as changed (exit 3) and the payload never reaches the unpickler. (A forger who also
    reseals the manifest meets the restricted unpickler instead: ``hostile_pickle_resealed``.)
    """
    ds = copy_dataset(dest, d, "maps_pkl")
    from gaitprep.manifest import load_manifest

    marker = d / MARKER_NAME
    entry = next(f for f in load_manifest(ds).files if f.path.endswith(".pkl"))
    payload = hostile_pickle_bytes("os_system", marker)
    assert len(payload) < entry.bytes
    (ds / entry.path).write_bytes(payload + b"\0" * (entry.bytes - len(payload)))  # same size
    runs = (
        Run(cmd("gaitprep export", ds, f"--to hdf5 {OUT}"), EXIT_VERIFY_FAILED, culprit=str(ds / entry.path)),
        Run(
            cmd("gaitmodels train --manifest", ds, f"{TINY_TRAIN} --out {OUT}"),
            EXIT_VERIFY_FAILED,
            culprit=str(ds / entry.path),
        ),
        Run(cmd("gaitprep verify-manifest", ds), EXIT_VERIFY_FAILED, report=True),
    )
    problem = r"refused to load posix\.system|sha256 differs"
    return Case(
        d.name, "same-size os.system pickle inside a dataset", d, entry.path, problem, runs, marker=marker
    )


@case
def import_keypoints_nan(dest: Path, d: Path) -> Case:
    import h5py

    h5 = d / "poses.h5"
    with h5py.File(h5, "w") as f:
        for i in range(2):
            arr = pose_sequence(i)
            if i == 1:
                arr[2, 3, 1] = np.nan
            f.create_dataset(f"{IDS[i]}/{LABELS[i]}/{VIEW}", data=arr)
    runs = (Run(cmd("gaitprep import-keypoints", h5, f"--out {OUT} -q")),)
    return Case(
        d.name,
        "NaN in an HDF5 keypoint dataset",
        d,
        f"{h5}:/{IDS[1]}/{LABELS[1]}/{VIEW}",
        r"NaN or infinite",
        runs,
    )


# recipes


@case
def malformed_recipe_yaml(dest: Path, d: Path) -> Case:
    recipe = d / "recipe.yaml"
    recipe.write_text("name: broken\ninputs:\n  pose: pose-pkl\nstages: [\n  - name: maps\n")
    runs = (Run(cmd("gaitprep run", recipe, "--data-root", d)),)
    return Case(d.name, "an unclosed flow sequence", d, str(recipe), r"line \d+: malformed YAML", runs)


@case
def recipe_unknown_key(dest: Path, d: Path) -> Case:
    recipe = d / "recipe.yaml"
    recipe.write_text(
        "name: typo\ninputs:\n  pose: pose-pkl\nstages:\n  - name: maps\n    kind: skeleton_maps\n"
        "    input: pose\n    parms: {preset: opengait}\n"
    )
    runs = (Run(cmd("gaitprep run", recipe, "--data-root", d)),)
    return Case(d.name, "a misspelt key (parms)", d, str(recipe), r"line 8: stages\[0\]\.parms", runs)


# --- issue 15: trust nothing we read -----------------------------------------------------------------------
# Consumers hash what they read; readers bound their input before working; numbers must be real and finite;
# every refusal is one line. Each case below failed (exit 0, a hang, a traceback or several lines) before.


def _zarr_chunk(ds: Path, seq_id: str) -> str:
    from gaitprep.manifest import load_manifest

    (rec,) = [r for r in load_manifest(ds).records if r.id == seq_id]
    return next(f.path for f in rec.files if "/maps/c/" in f.path)


def _consumer_runs(dest: Path, ds: Path, train_culprit: str, test_culprit: str) -> tuple[Run, ...]:
    """Every command that reads ``ds``'s data, expecting exit 3; evaluate reads the test split only."""
    runs = dataset_runs(ds, base_checkpoint(dest), EXIT_VERIFY_FAILED, verify_report=True)
    return tuple(
        Run(r.argv, r.exit_code, r.report, test_culprit if r.argv[1] == "evaluate" else train_culprit)
        for r in runs
    )


@case
def zarr_chunk_bit_flipped(dest: Path, d: Path) -> Case:
    """One bit flipped in the chunk of a train and of a test sequence: same sizes, so only hashing sees it."""
    ds = copy_dataset(dest, d)
    first, last = _zarr_chunk(ds, IDS[0]), _zarr_chunk(ds, BAD_ID)
    for rel in (first, last):
        data = bytearray((ds / rel).read_bytes())
        data[len(data) // 2] ^= 0x01
        (ds / rel).write_bytes(bytes(data))
    runs = _consumer_runs(dest, ds, first, last)
    return Case(d.name, "one bit flipped in two Zarr chunks", d, first, r"sha256 differs", runs)


@case
def pickles_swapped(dest: Path, d: Path) -> Case:
    """Two same-size pickles of a pkl dataset swapped: every file is intact, but not where it belongs."""
    ds = copy_dataset(dest, d, "maps_pkl")
    first = f"{IDS[0]}/{LABELS[0]}/{VIEW}/{VIEW}.pkl"
    last = f"{BAD_ID}/{LABELS[(N_SEQ - 1) % 3]}/{VIEW}/{VIEW}.pkl"
    a, b = (ds / first).read_bytes(), (ds / last).read_bytes()
    assert len(a) == len(b) and a != b
    (ds / first).write_bytes(b)
    (ds / last).write_bytes(a)
    runs = _consumer_runs(dest, ds, first, last)
    return Case(d.name, "two same-size pickles swapped", d, first, r"sha256 differs", runs)


def _replace_and_reseal(ds: Path, rel: str, data: bytes) -> None:
    """Replace a data file and reseal the manifest with its new size and sha256, as a careful forger would."""
    import hashlib

    (ds / rel).write_bytes(data)
    new = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def edit(doc: dict) -> None:
        for f in [*doc["files"], *(f for r in doc["records"] for f in r["files"])]:
            if f["path"] == rel:
                f.update(new)

    reseal(ds, edit)


@case
def hostile_pickle_resealed(dest: Path, d: Path) -> Case:
    """An ``os.system`` pickle with a resealed manifest: the hashes agree, so the unpickler must refuse it."""
    ds = copy_dataset(dest, d, "maps_pkl")
    marker = d / MARKER_NAME
    rel = f"{IDS[0]}/{LABELS[0]}/{VIEW}/{VIEW}.pkl"
    _replace_and_reseal(ds, rel, hostile_pickle_bytes("os_system", marker))
    runs = (
        Run(cmd("gaitprep export", ds, f"--to hdf5 {OUT}")),
        Run(cmd("gaitprep preview", ds, f"--out {OUT}")),
        Run(cmd("gaitmodels train --manifest", ds, f"{TINY_TRAIN} --out {OUT}")),
    )
    problem = r"refused to load posix\.system"
    return Case(d.name, "os.system pickle, manifest resealed", d, rel, problem, runs, marker=marker)


@case
def manifest_path_nul_byte(dest: Path, d: Path) -> Case:
    ds = copy_dataset(dest, d)
    bad = "data.zarr/00000/x\u0000y"
    reseal(ds, lambda doc: doc["files"].append({"path": bad, "bytes": 1, "sha256": "0" * 64}))
    runs = dataset_runs(ds, base_checkpoint(dest), EXIT_VERIFY_FAILED, verify_report=True)
    return Case(d.name, "files[] names a path with a NUL byte", d, "data.zarr/00000/x", r"not a plain", runs)


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@case
def manifest_is_dev_zero(dest: Path, d: Path) -> Case:
    zero = Path("/dev/zero")
    runs = (
        Run(cmd("gaitprep verify-manifest", zero)),
        Run(cmd("gaitprep diff-manifest", zero, base(dest)["maps"])),
        Run(cmd("gaitmodels train --manifest", zero, f"{TINY_TRAIN} --out {OUT}")),
    )
    return Case(d.name, "the manifest is /dev/zero", d, str(zero), r"not a regular file", runs)


@case
def manifest_is_fifo(dest: Path, d: Path) -> Case:
    ds = copy_dataset(dest, d)
    m = ds / "manifest.json"
    m.unlink()
    _fifo(m)
    runs = (
        Run(cmd("gaitprep verify-manifest", ds)),
        Run(cmd("gaitprep diff-manifest", ds, base(dest)["maps"])),
        Run(cmd("gaitprep list", d), report=True),
    )
    return Case(d.name, "manifest.json is a FIFO nobody writes", d, str(m), r"not a regular file", runs)


@case
def partition_is_fifo(dest: Path, d: Path) -> Case:
    tree = write_tree(d / "pose-pkl", "pose-pkl")
    part = _fifo(d / "partition.json")
    runs = _partition_runs(tree, part)
    return Case(d.name, "--partition is a FIFO nobody writes", d, str(part), r"not a regular file", runs)


@case
def partition_is_dev_zero(dest: Path, d: Path) -> Case:
    tree = write_tree(d / "pose-pkl", "pose-pkl")
    zero = Path("/dev/zero")
    runs = _partition_runs(tree, zero)
    return Case(d.name, "--partition /dev/zero", d, str(zero), r"not a regular file", runs)


@case
def partition_nested_deeply(dest: Path, d: Path) -> Case:
    tree = write_tree(d / "pose-pkl", "pose-pkl")
    part = d / "partition.json"
    part.write_text('{"TRAIN_SET": ' + "[" * 100_000 + "]" * 100_000 + ', "TEST_SET": []}')
    runs = _partition_runs(tree, part)
    return Case(d.name, "100,000 nested lists", d, str(part), r"nested more than 64 levels", runs)


@case
def partition_huge_integer(dest: Path, d: Path) -> Case:
    tree = write_tree(d / "pose-pkl", "pose-pkl")
    part = d / "partition.json"
    part.write_text('{"TRAIN_SET": [' + "7" * 5000 + '], "TEST_SET": []}')
    runs = _partition_runs(tree, part)
    return Case(d.name, "a 5000-digit integer", d, str(part), r"not valid JSON .*digits", runs)


@case
def recipe_alias_bomb(dest: Path, d: Path) -> Case:
    """Nested YAML aliases: a few hundred bytes that expand to millions of nodes."""
    lines = ["name: bomb", 'l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 7)]
    recipe = d / "recipe.yaml"
    recipe.write_text("\n".join(lines) + "\n")
    runs = (Run(cmd("gaitprep run", recipe, "--data-root", d, "--dry-run")),)
    problem = r"line 2: YAML anchors and aliases are not allowed"
    return Case(d.name, "nested YAML aliases", d, str(recipe), problem, runs)


@case
def recipe_nested_deeply(dest: Path, d: Path) -> Case:
    recipe = d / "recipe.yaml"
    recipe.write_text("name: deep\nstages: " + "[" * 5000 + "]" * 5000 + "\n")
    runs = (Run(cmd("gaitprep run", recipe, "--data-root", d, "--dry-run")),)
    return Case(d.name, "5000 nested flow sequences", d, str(recipe), r"nested more than 64 levels", runs)


def huge_png_bytes(width: int, height: int) -> bytes:
    """A valid 1-bit greyscale PNG of ``width`` x ``height`` all-black pixels (a few dozen KB for 20000²)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@case
def png_huge_dimensions(dest: Path, d: Path) -> Case:
    damage = _png("000003.png", lambda b: huge_png_bytes(20000, 20000))
    return _damaged_file_case(d, "sil-raw", "a 1-bit PNG of 20000x20000 px", r"20000x20000 px", damage)


@case
def jpeg_named_png(dest: Path, d: Path) -> Case:
    def jpeg(b: bytes) -> bytes:
        ok, buf = cv2.imencode(".jpg", mask_frames(N_SEQ - 1, 1)[0])
        return buf.tobytes()

    damage = _png("000005.png", jpeg)
    return _damaged_file_case(d, "sil-raw", "JPEG bytes named .png", r"it is a JPEG image", damage)


@case
def bmp_named_png(dest: Path, d: Path) -> Case:
    def bmp(b: bytes) -> bytes:
        ok, buf = cv2.imencode(".bmp", mask_frames(N_SEQ - 1, 1)[0])
        return buf.tobytes()

    damage = _png("000005.png", bmp)
    return _damaged_file_case(d, "sil-raw", "BMP bytes named .png", r"it is a BMP image", damage)


@case
def pose_json_string_number(dest: Path, d: Path) -> Case:
    return _damaged_file_case(
        d, "pose-raw", 'a keypoint given as the string "12.5"', r"not a number", _json_value(4, "12.5")
    )


@case
def pose_json_boolean(dest: Path, d: Path) -> Case:
    return _damaged_file_case(
        d,
        "pose-raw",
        "a keypoint given as true",
        r"pose_keypoints_2d\[4\] is true, not a number",
        _json_value(4, True),
    )


@case
def pose_complex_pickle(dest: Path, d: Path) -> Case:
    arr = pose_sequence(N_SEQ - 1).astype(np.complex128) + 1j
    return _pose_case(d, "complex128 poses", arr, r"dtype complex128, expected a real number type")


@case
def pose_timedelta_pickle(dest: Path, d: Path) -> Case:
    arr = pose_sequence(N_SEQ - 1).astype("m8[ms]")
    return _pose_case(d, "timedelta64 poses", arr, r"dtype timedelta64\[ms\], expected a real number type")


@case
def id_folder_with_colon(dest: Path, d: Path) -> Case:
    """An id folder ``00003:x``: the pickle path would start with it, which verification rejects."""
    tree = write_tree(d / "pose-pkl", "pose-pkl")
    bad = tree / f"{BAD_ID}:x"
    (tree / BAD_ID).rename(bad)
    runs = tuple(
        Run(cmd("gaitprep render-heatmaps --input", tree, f"--out {OUT} --format {fmt} -q"))
        for fmt in ("pkl", "zarr")
    )
    return Case(d.name, "id folder named 00003:x", d, str(bad), r"cannot be stored under this name", runs)


def _h5_case(d: Path, about: str, write: Callable[[Any], None], culprit: str, problem: str) -> Case:
    import h5py

    h5 = d / "poses.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset(f"{IDS[0]}/{LABELS[0]}/{VIEW}", data=pose_sequence(0))
        write(f)
    runs = (Run(cmd("gaitprep import-keypoints", h5, f"--out {OUT} -q")),)
    return Case(d.name, about, d, culprit.format(h5=h5), problem, runs)


@case
def import_keypoints_link_cycle(dest: Path, d: Path) -> Case:
    import h5py

    def write(f: Any) -> None:
        f["loop"] = h5py.SoftLink("/loop")

    return _h5_case(d, "a soft link to itself", write, "{h5}", r"cannot walk the HDF5 file .*too many links")


@case
def import_keypoints_huge_shape(dest: Path, d: Path) -> Case:
    """A dataset declaring 10^9 frames with no chunk written: a tiny file that would read as 408 GB."""

    def write(f: Any) -> None:
        f.create_dataset(f"{IDS[1]}/{LABELS[1]}/{VIEW}", shape=(10**9, 17, 3), dtype="f8", chunks=(1, 17, 3))

    culprit = f"{{h5}}:/{IDS[1]}/{LABELS[1]}/{VIEW}"
    return _h5_case(d, "10^9 declared frames", write, culprit, r"declares 1000000000 frames")


@case
def import_keypoints_complex(dest: Path, d: Path) -> Case:
    def write(f: Any) -> None:
        f.create_dataset(f"{IDS[1]}/{LABELS[1]}/{VIEW}", data=pose_sequence(1).astype(np.complex64))

    culprit = f"{{h5}}:/{IDS[1]}/{LABELS[1]}/{VIEW}"
    return _h5_case(d, "complex64 keypoints", write, culprit, r"dtype complex64")


def _checkpoint_case(dest: Path, d: Path, about: str, edit: Callable[[dict], None], problem: str) -> Case:
    import torch

    ckpt = d / "run" / "checkpoints" / "last.pt"
    ckpt.parent.mkdir(parents=True)
    doc = torch.load(base_checkpoint(dest), weights_only=True)
    edit(doc["model_state"])
    torch.save(doc, ckpt)
    ds = base(dest)["maps"]
    train = cmd("gaitmodels train --manifest", ds, TINY_TRAIN.replace("--iterations 1", "--iterations 2"))
    runs = (
        Run(cmd("gaitmodels evaluate --checkpoint", ckpt, "--manifest", ds, f"--device cpu --out {OUT} -q")),
        Run(cmd("gaitmodels predict --checkpoint", ckpt, "--input", ds, "--device cpu --json")),
        Run((*train, "--init", str(ckpt), "--out", OUT)),
        Run((*train, "--resume", str(ckpt), "--out", OUT)),
    )
    return Case(d.name, about, d, str(ckpt), problem, runs)


def _first_float(state: dict) -> str:
    return next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)


@case
def checkpoint_nan_weights(dest: Path, d: Path) -> Case:
    def edit(state: dict) -> None:
        state[_first_float(state)].view(-1)[0] = float("nan")

    return _checkpoint_case(dest, d, "one NaN weight", edit, r"hold 1 NaN or infinite value")


@case
def checkpoint_shape_mismatch(dest: Path, d: Path) -> Case:
    import torch

    def edit(state: dict) -> None:
        key = _first_float(state)
        state[key] = torch.zeros(state[key].numel() + 1)

    return _checkpoint_case(dest, d, "a weight of the wrong shape", edit, r"weights do not fit the model")


def _option_case(d: Path, about: str, argv: tuple[str, ...], code: int, culprit: str, problem: str) -> Case:
    return Case(d.name, about, d, culprit, problem, (Run(argv, code),))


@case
def sigma_infinite(dest: Path, d: Path) -> Case:
    tree = write_tree(d / "pose-pkl", "pose-pkl")
    argv = cmd("gaitprep render-heatmaps --input", tree, f"--out {OUT} --sigma inf -q")
    return _option_case(d, "--sigma inf", argv, EXIT_BAD_INPUT, "--sigma", r"finite number")


@case
def train_zero_widths(dest: Path, d: Path) -> Case:
    argv = cmd(
        "gaitmodels train --manifest", base(dest)["maps"], TINY_TRAIN, "--widths 0,0,0,0", f"--out {OUT}"
    )
    return _option_case(d, "--widths 0,0,0,0", argv, 2, "--widths", r"at least 1")


@case
def train_zero_batch(dest: Path, d: Path) -> Case:
    argv = cmd("gaitmodels train --manifest", base(dest)["maps"], TINY_TRAIN, "--batch 0,0", f"--out {OUT}")
    return _option_case(d, "--batch 0,0", argv, 2, "--batch", r"at least 1")


@case
def train_nan_lr(dest: Path, d: Path) -> Case:
    argv = cmd("gaitmodels train --manifest", base(dest)["maps"], TINY_TRAIN, "--lr nan", f"--out {OUT}")
    return _option_case(d, "--lr nan", argv, EXIT_BAD_INPUT, "--lr", r"finite number")


@case
def dask_scheduler_malformed(dest: Path, d: Path) -> Case:
    recipe = d / "recipe.yaml"
    recipe.write_text("name: x\n")
    argv = cmd("gaitprep run", recipe, "--data-root", d, "--dry-run --dask-scheduler tcp://:::bad")
    return _option_case(
        d, "--dask-scheduler tcp://:::bad", argv, 2, "--dask-scheduler", r"not a scheduler address"
    )


# hostile pickles in input trees


def _hostile_case(kind: str) -> Builder:
    def build(dest: Path, d: Path) -> Case:
        marker = d / MARKER_NAME
        payload = hostile_pickle_bytes(kind, marker)
        pose = write_tree(d / "pose-pkl", "pose-pkl")
        bad_pkl(pose).write_bytes(payload)
        sil = write_tree(d / "sil-pkl", "sil-pkl")
        bad_pkl(sil).write_bytes(payload)
        first_tree = write_tree(d / "first", "pose-pkl")
        first = seq_folder(first_tree, 0) / f"{VIEW}.pkl"  # the leaf layout discovery reads
        first.write_bytes(payload)
        runs = (
            *(Run(r.argv, r.exit_code, r.report, str(bad_pkl(pose))) for r in pose_runs(pose, _partition(d))),
            *(Run(r.argv, r.exit_code, r.report, str(bad_pkl(sil))) for r in sil_runs(sil)),
            Run(cmd("gaitprep render-heatmaps --input", first_tree, f"--out {OUT} -q"), culprit=str(first)),
            # inspect is a report: it lists the refused pickle as a problem and goes on (exit 1)
            Run(cmd("gaitprep inspect", first_tree, "-q"), report=True, culprit=str(first)),
        )
        return Case(
            d.name, f"hostile pickle: {kind}", d, f"{VIEW}.pkl", HOSTILE_PROBLEM[kind], runs, marker=marker
        )

    build.__name__ = f"hostile_{kind}"
    return build


HOSTILE_PROBLEM = {
    "os_system": r"refused to load posix\.system",
    "subprocess_popen": r"refused to load subprocess\.Popen",
    "builtins_eval": r"refused to load (builtins|__builtin__)\.eval",  # protocol 2 spells it __builtin__
    "builtins_import": r"refused to load builtins\.__import__",
    "object_array": r"refused to load posix\.system",
    "nested_in_dict": r"refused to load posix\.system",
    "persistent_id": r"corrupt or truncated pickle .*persistent",
    "benign_object_array": r"refused an object array",
    "ndarray_no_buffer": r"refused numpy\.ndarray\(shape\) without data",
    "reconstruct_no_data": r"refused an array reconstructed with shape \(100000, 17, 3\) and no data",
}

for _kind in HOSTILE_KINDS:
    case(_hostile_case(_kind))


# --- inputs that are odd but valid: documented behaviour, not errors --------------------------------------


def zero_height_tree(root: Path) -> Path:
    """A pose-pkl tree whose last sequence has every joint on one image row (vertical span 0)."""
    tree = write_tree(root, "pose-pkl")
    arr = pose_sequence(N_SEQ - 1)
    arr[..., 1] = 100.0
    write_pickle(bad_pkl(tree), arr)
    return tree


def zero_confidence_tree(root: Path) -> Path:
    """A pose-pkl tree whose last sequence has every confidence 0 (coordinates unchanged)."""
    tree = write_tree(root, "pose-pkl")
    arr = pose_sequence(N_SEQ - 1)
    arr[..., 2] = 0.0
    write_pickle(bad_pkl(tree), arr)
    return tree


# --- building ---------------------------------------------------------------------------------------------


def build_case(name: str, dest: Path) -> Case:
    """Write case ``name`` under ``dest/<name>/`` (shared good inputs under ``dest/_base``) and return it."""
    d = Path(dest) / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return CASES[name](Path(dest), d)


def build_corpus(dest: Path, names: list[str] | None = None) -> dict[str, Case]:
    """Write every case (or ``names``) under ``dest`` and an ``index.json`` describing them."""
    cases = {n: build_case(n, dest) for n in (names or list(CASES))}
    (Path(dest) / "index.json").write_text(
        json.dumps({n: c.to_json() for n, c in cases.items()}, indent=2, sort_keys=True) + "\n"
    )
    return cases


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    unknown = [n for n in args[1:] if n not in CASES]
    if unknown:
        print(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(CASES)}", file=sys.stderr)
        return 2
    cases = build_corpus(Path(args[0]), args[1:] or None)
    print(f"wrote {len(cases)} cases under {args[0]} (index.json lists them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
