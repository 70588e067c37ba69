"""One dataset build: stream sequences through a transform into a writer, in parallel, atomically, resumably.

The flow:
1. ``plan``: the caller lists ``SourceItem``s (each with its input fingerprint) and a picklable ``process``
   function (load + transform one item). The derivation id is known before any work.
2. The output is checked against the ownership rule (``ownership.py``): never an input, inside one or
   holding one, never inside a dataset. If ``<out>/manifest.json`` already carries that derivation id
   (checked again once the lock is held) and passes the quick check, the build is "up to date"; another
   dataset there is replaced only with ``force``, and only when it is ours (an empty folder or a gaitprep
   dataset with no file its manifest does not list).
3. Work happens in a hidden staging directory ``.<name>.partial`` beside ``<out>``. Each finished
   sequence leaves a record under ``.done/``; a re-run after a crash (or SIGKILL) reuses every sequence
   whose files still match their checksums and redoes the rest.
4. One deterministic commit step sorts the records, writes the manifest and renames the staging directory
   to ``<out>``. Nothing half-written is ever visible under ``<out>``.

Outputs do not depend on the number of workers: every sequence is written independently and the records
are sorted before hashing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import socket
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep import __version__
from gaitprep.errors import (
    BadInputError,
    BuildInterrupted,
    BuildLockedError,
    DifferentDatasetError,
    GaitprepError,
    VerificationError,
)
from gaitprep.io.atomic import atomic_write_bytes, canonical_json
from gaitprep.io.store import finalize_zarr_root, init_zarr_root, remove_sequence, write_sequence
from gaitprep.io.tree import sha256_file
from gaitprep.manifest import (
    MANIFEST_NAME,
    ArrayRecord,
    FileEntry,
    Generator,
    Layout,
    Manifest,
    Owner,
    PartitionInfo,
    Provenance,
    SequenceRecord,
    SourceInfo,
    array_digest,
    content_digest,
    derivation_id,
    json_digest,
    load_manifest,
    manifest_bytes,
    seal,
)
from gaitprep.ownership import check_output_path, check_replaceable
from gaitprep.partition import Partition
from gaitprep.skeleton import CLASS_INDEX, CLASS_ORDER

DONE_DIR = ".done"
STALE_UNREADABLE_LOCK_S = 60.0


@dataclass(frozen=True)
class SourceItem:
    """One sequence to build. ``inputs`` is whatever ``process`` needs to load it (paths, refs)."""

    id: str
    label: str
    class_folder: str
    view: str
    split: str | None
    source_digest: str
    inputs: tuple[Any, ...]

    @property
    def key(self) -> str:
        return f"{self.id}/{self.label}/{self.view}"


@dataclass
class ProcessResult:
    """What ``process`` returns for one sequence."""

    arrays: dict[str, np.ndarray]
    frames_in: int
    frames: int
    dropped: dict[str, int] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)
    # Optional SequenceRecord fields (reader facts: person_frames, nonfinite_joints, ...).
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuildPlan:
    out: Path
    name: str
    version: str
    modality: str
    algo_version: str
    layout: Layout
    params: dict[str, Any]
    items: list[SourceItem]
    process: Callable[[SourceItem], ProcessResult]
    source: SourceInfo
    partition: Partition | None = None
    fitted: dict[str, Any] = field(default_factory=dict)
    aggregate: Callable[[list[dict[str, float]]], dict[str, Any]] | None = None
    # Partition ids that the input does not hold (built anyway, recorded; see sources.partition_missing).
    partition_missing: tuple[str, ...] = ()
    # The paths this build reads (trees, upstream datasets, partition file): the output may not be one of
    # them, hold one or lie inside one.
    inputs: tuple[Path, ...] = ()
    # Who asked for it (``gaitprep run``: recipe and stage); recorded in the manifest, not in the identity.
    owner: Owner | None = None

    @property
    def params_digest(self) -> str:
        return json_digest(self.params)

    @property
    def layout_digest(self) -> str:
        return json_digest(self.layout.model_dump(mode="json"))

    @property
    def derivation_id(self) -> str:
        fitted = json_digest(self.fitted) if self.fitted else None
        return derivation_id(
            source_digest=self.source.digest,
            params_digest=json_digest({"params": self.params, "fitted": fitted}),
            layout_digest=self.layout_digest,
            partition_sha256=self.partition.sha256 if self.partition else None,
            algo_version=self.algo_version,
            modality=self.modality,
        )


@dataclass
class BuildResult:
    manifest: Manifest
    path: Path
    up_to_date: bool
    reused: int
    built: int


def bit_relevant_versions() -> dict[str, str]:
    import cv2
    import zarr

    return {
        "gaitprep": __version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "zarr": zarr.__version__,
        "python": platform.python_version(),
    }


def staging_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.partial"


def _lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:  # kill(0 or -n, 0) would ask about process groups, not this pid
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _BuildLock:
    """An exclusive lock file beside the output; a lock left by a killed build (dead pid) is taken over."""

    def __init__(self, out: Path):
        self.path = _lock_path(out)

    def __enter__(self) -> _BuildLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is None or (owner["host"] == socket.gethostname() and not _pid_alive(owner["pid"])):
                    self.path.unlink(missing_ok=True)  # stale: its build is gone
                    continue
                raise BuildLockedError(
                    f"another build (pid {owner.get('pid', '?')}) is writing this output; "
                    f"wait for it or remove {self.path.name} if it is gone",
                    self.path.parent,
                ) from None
            with os.fdopen(fd, "w") as fh:
                json.dump({"pid": os.getpid(), "host": socket.gethostname()}, fh)
            return self
        raise BuildLockedError("could not take the build lock", self.path)

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)

    def _owner(self) -> dict[str, Any] | None:
        """``{"pid", "host"}`` of the holder, or None when the lock is stale: unreadable (its writer died
        between creating and filling it) and older than ``STALE_UNREADABLE_LOCK_S``."""
        try:
            doc = json.loads(self.path.read_text())
            return {"pid": int(doc["pid"]), "host": str(doc["host"])}
        except FileNotFoundError:
            return None  # released meanwhile
        except (OSError, ValueError, KeyError, TypeError):
            try:
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:
                return None
            return None if age > STALE_UNREADABLE_LOCK_S else {"pid": "?", "host": "?"}


def _done_name(item: SourceItem) -> str:
    return f"{item.id}__{item.label}__{item.view}.json"


def _files_ok(root: Path, files: tuple[FileEntry, ...]) -> bool:
    for f in files:
        p = root / f.path
        if not p.is_file() or p.stat().st_size != f.bytes or sha256_file(p) != f.sha256:
            return False
    return True


def _check_result(result: ProcessResult, item: SourceItem, layout: Layout) -> None:
    """The arrays must be exactly those the layout declares, with its dtypes and shapes: the manifest
    describes them, and a reader trusts that description (domain §9)."""
    undeclared = sorted(set(result.arrays) - set(layout.arrays))
    if undeclared:
        raise GaitprepError(
            f"transform returned arrays {undeclared} for {item.key} that the layout does not declare"
        )
    for name, spec in layout.arrays.items():
        arr = result.arrays.get(name)
        if arr is None:
            raise GaitprepError(f"transform returned no array {name!r} for {item.key}")
        if str(arr.dtype) != spec.dtype:
            raise GaitprepError(
                f"transform returned {arr.dtype} for {name!r} of {item.key}, expected {spec.dtype}"
            )
        expected = (result.frames, *spec.item_shape) if spec.per_frame else tuple(spec.item_shape)
        if tuple(arr.shape) != expected:
            raise GaitprepError(
                f"transform returned shape {tuple(arr.shape)} for {name!r} of {item.key}, expected {expected}"
                + (" (frames, *item_shape)" if spec.per_frame else "")
            )


_WATCHED_PARENT: int | None = None


def _exit_if_orphaned(parent: int | None) -> None:
    """A local worker whose build process died (SIGKILL, or SIGTERM to it alone) exits instead of writing
    on: checked now, and from then on by a daemon thread every 0.2 s (an idle worker exits too)."""
    global _WATCHED_PARENT
    if parent is None or os.getpid() == parent:
        return
    if os.getppid() != parent:
        os._exit(1)
    if _WATCHED_PARENT != parent:
        import threading

        _WATCHED_PARENT = parent

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.2)
            os._exit(1)

        threading.Thread(target=watch, name="gaitprep-parent-watch", daemon=True).start()


def build_one(
    item: SourceItem,
    plan_process: Callable[[SourceItem], ProcessResult],
    stage: Path,
    layout: Layout,
    parent: int | None = None,
) -> SequenceRecord:
    """Process and write one sequence into the staging directory; leave a done-record. Runs in workers.

    ``parent``: the build process's pid for local workers; checked before the work and before writing.
    """
    _exit_if_orphaned(parent)
    result = plan_process(item)
    _check_result(result, item, layout)
    _exit_if_orphaned(parent)
    remove_sequence(stage, item.id, item.label, item.view)
    attrs = {
        "class_index": CLASS_INDEX[item.label],
        "class_folder": item.class_folder,
        "split": item.split,
        "frames": result.frames,
    }
    files = write_sequence(stage, item.id, item.label, item.view, result.arrays, layout, attrs)
    record = SequenceRecord(
        id=item.id,
        label=item.label,
        class_folder=item.class_folder,
        view=item.view,
        split=item.split,  # type: ignore[arg-type]
        frames_in=result.frames_in,
        frames=result.frames,
        frames_dropped={k: v for k, v in sorted(result.dropped.items()) if v},
        source_digest=item.source_digest,
        arrays={
            name: ArrayRecord(shape=tuple(arr.shape), dtype=str(arr.dtype), digest=array_digest(arr))
            for name, arr in sorted(result.arrays.items())
        },
        files=tuple(files),
        stats={k: float(v) for k, v in sorted(result.stats.items())},
        **result.record,
    )
    atomic_write_bytes(stage / DONE_DIR / _done_name(item), canonical_json(record.model_dump(mode="json")))
    return record


def _reusable(stage: Path, item: SourceItem) -> SequenceRecord | None:
    done = stage / DONE_DIR / _done_name(item)
    if not done.is_file():
        return None
    try:
        record = SequenceRecord.model_validate_json(done.read_bytes())
    except ValueError:
        return None
    if record.source_digest != item.source_digest or record.split != item.split:
        return None
    return record if _files_ok(stage, record.files) else None


def default_aggregate(stats: list[dict[str, float]]) -> dict[str, Any]:
    """Dataset-level mean and p95 of every per-sequence statistic."""
    keys = sorted({k for s in stats for k in s})
    out: dict[str, Any] = {}
    for k in keys:
        vals = np.array([s[k] for s in stats if k in s], dtype=np.float64)
        out[k] = {"mean": round(float(vals.mean()), 6), "p95": round(float(np.percentile(vals, 95)), 6)}
    return out


def partition_info(partition: Partition, items: list[SourceItem]) -> PartitionInfo:
    label_of = {i.id: i.label for i in items}
    counts = {
        split: {c: sum(1 for i in ids if label_of.get(i) == c) for c in CLASS_ORDER}
        for split, ids in (("train", partition.train), ("test", partition.test))
    }
    return PartitionInfo(
        name=partition.name,
        sha256=partition.sha256,
        train_ids=partition.train,
        test_ids=partition.test,
        class_counts=counts,
    )


def absolute_paths(value: Any) -> Any:
    """``value`` with every ``Path`` in it made absolute, inside tuples, lists, dicts and dataclasses (a
    ``SourceItem`` and the ``SequenceRef`` it holds): what is sent to workers in another directory."""
    if isinstance(value, Path):
        return value.absolute()
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
        return type(value)(*(absolute_paths(v) for v in value))
    if isinstance(value, tuple | list):
        return type(value)(absolute_paths(v) for v in value)
    if isinstance(value, dict):
        return {k: absolute_paths(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: absolute_paths(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init
        }
        return dataclasses.replace(value, **changes)
    return value


def _run_parallel(
    todo: list[SourceItem], plan: BuildPlan, stage: Path, workers: int, quiet: bool, dask_address: str | None
) -> list[SequenceRecord]:
    from joblib import Parallel, delayed, parallel_config

    from gaitprep.progress import progress

    if dask_address:
        # dask workers may have been started in another working directory: send absolute paths only.
        stage = stage.absolute()
        tasks = (delayed(build_one)(absolute_paths(item), plan.process, stage, plan.layout) for item in todo)
        try:
            from dask.distributed import Client
        except ImportError:
            raise GaitprepError(
                "--dask-scheduler needs dask[distributed]: pip install 'gaitprep[dask]'"
            ) from None
        with Client(dask_address), parallel_config(backend="dask"):
            return list(
                _test_pause(
                    progress(
                        Parallel(return_as="generator_unordered")(tasks),
                        total=len(todo),
                        desc=plan.name,
                        quiet=quiet,
                    )
                )
            )
    if workers <= 1:
        return list(
            _test_pause(
                build_one(item, plan.process, stage, plan.layout)
                for item in progress(todo, total=len(todo), desc=plan.name, quiet=quiet)
            )
        )
    parent = os.getpid()
    tasks = (delayed(build_one)(item, plan.process, stage, plan.layout, parent) for item in todo)
    runner = Parallel(n_jobs=workers, return_as="generator_unordered", batch_size=1)
    results = runner(tasks)
    with warnings.catch_warnings():
        # An interrupted build cancels queued tasks on purpose: one "error: interrupted" line says so.
        warnings.filterwarnings("ignore", message=r".*(been successfully executed|still being processed)")
        try:
            return list(_test_pause(progress(results, total=len(todo), desc=plan.name, quiet=quiet)))
        finally:
            results.close()


PAUSE_ENV = "GAITPREP_TEST_PAUSE_AFTER"
RESUME_ENV = "GAITPREP_TEST_RESUME_FILE"


def _test_pause(records: Iterable[SequenceRecord]) -> Iterator[SequenceRecord]:
    """Test hook: with ``GAITPREP_TEST_PAUSE_AFTER=N`` the build stops after its N-th finished sequence and
    waits there, holding its lock, for a signal (Ctrl-C, SIGTERM, SIGKILL) or, when
    ``GAITPREP_TEST_RESUME_FILE`` names a file, until that file exists. Fault tests thus interrupt a build
    at a known point instead of racing the machine's speed. Unset (always, outside tests), it does nothing."""
    after = os.environ.get(PAUSE_ENV)
    n = int(after) if after and after.isdigit() else None
    resume = os.environ.get(RESUME_ENV)
    for i, record in enumerate(records, start=1):
        yield record
        if i == n:
            while not (resume and os.path.exists(resume)):  # else only a signal ends this
                time.sleep(0.05)


def build_dataset(
    plan: BuildPlan,
    *,
    workers: int = 1,
    quiet: bool = False,
    dask_address: str | None = None,
    force: bool = False,
) -> BuildResult:
    """Build ``plan`` into ``plan.out`` (see the module docstring). Returns the sealed manifest."""
    out = Path(plan.out)
    if not plan.items:
        raise BadInputError("nothing to build: the input holds no sequences", out)
    _check_storable(plan)
    check_items(plan.items, out)
    check_output_path(out, inputs=plan.inputs, kind="dataset", force=force)
    deriv = plan.derivation_id
    # Look before taking the lock (a finished dataset needs no lock) and again once holding it: another
    # build may have committed to ``out`` in between, and that dataset must not be replaced unasked.
    if (done := _existing_output(out, deriv, force)) is not None:
        return done
    started = time.time()
    with _BuildLock(out):
        if (done := _existing_output(out, deriv, force)) is not None:
            return done
        check_output_path(out, inputs=plan.inputs, kind="dataset", force=force)  # again, under the lock
        stage = staging_dir(out)
        marker = stage / DONE_DIR / "derivation"
        if stage.exists() and (not marker.is_file() or marker.read_text() != deriv):
            shutil.rmtree(stage)  # staging left by a different build: never mix
        (stage / DONE_DIR).mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(marker, deriv.encode())
        if "zarr" in plan.layout.formats:
            init_zarr_root(stage)
        reused = {i.key: r for i in plan.items if (r := _reusable(stage, i)) is not None}
        todo = [i for i in plan.items if i.key not in reused]
        try:
            built = _run_parallel(todo, plan, stage, workers, quiet, dask_address)
        except KeyboardInterrupt:
            raise _interrupted(stage, out, len(plan.items)) from None
        records = sorted([*reused.values(), *built], key=lambda r: r.key)
        if "zarr" in plan.layout.formats:
            finalize_zarr_root(stage, zarr_root_attrs(plan, records, deriv))
        manifest = _assemble(plan, records, stage, deriv, started, workers)
        # The manifest first: if writing it fails (a full disk), the done-records still let a re-run reuse
        # every sequence. They go only once the manifest is safely written.
        atomic_write_bytes(stage / MANIFEST_NAME, manifest_bytes(manifest))
        shutil.rmtree(stage / DONE_DIR)
        _commit(stage, out)
    return BuildResult(manifest, out, up_to_date=False, reused=len(reused), built=len(built))


def check_items(items: list[SourceItem], out: Path) -> None:
    """A sequence is ``(id, class, view)``: several views of one id are several sequences, but the same key
    twice, or one id under two classes (a label conflict), is an error."""
    dup_keys = sorted(k for k, n in Counter(i.key for i in items).items() if n > 1)
    if dup_keys:
        raise BadInputError(f"sequences appear more than once: {dup_keys[:5]}", out)
    labels: dict[str, set[str]] = {}
    for i in items:
        labels.setdefault(i.id, set()).add(i.label)
    conflicts = sorted(k for k, v in labels.items() if len(v) > 1)
    if conflicts:
        shown = ", ".join(f"{k} ({' and '.join(sorted(labels[k]))})" for k in conflicts[:5])
        raise BadInputError(f"label conflict: {len(conflicts)} id(s) appear under two classes: {shown}", out)


def _check_storable(plan: BuildPlan) -> None:
    """Build-time path rule = verify-time path rule: refuse, before any work, a sequence whose stored
    paths ``verify-manifest`` would reject (e.g. an id folder named ``00011:x``)."""
    from gaitprep.io.store import ZARR_DIR, pkl_path, seq_path
    from gaitprep.verify import _lexical_reason

    for item in plan.items:
        for part in (item.id, item.label, item.view):
            if not part or "/" in part or part.startswith("."):
                reason = "a folder name must be non-empty, hold no '/' and not start with '.'"
                break
        else:
            rels = [
                f"{ZARR_DIR}/{seq_path(item.id, item.label, item.view)}/{name}" for name in plan.layout.arrays
            ]
            rels += [
                pkl_path(item.id, item.label, item.view, n, plan.layout.primary) for n in plan.layout.arrays
            ]
            reason = next((r for rel in rels if (r := _lexical_reason(rel))), None)
        if reason:
            where = Path(plan.source.root) / item.id if plan.source.kind == "tree" else plan.out
            raise BadInputError(f"sequence {item.key!r} cannot be stored under this name: {reason}", where)


def zarr_root_attrs(plan: BuildPlan, records: list[SequenceRecord], deriv: str) -> dict[str, Any]:
    """What the Zarr store's root says about the dataset (the manifest beside it says everything)."""
    spec = plan.layout.arrays[plan.layout.primary]
    return {
        "name": plan.name,
        "version": plan.version,
        "modality": plan.modality,
        "content_digest": content_digest(records),
        "derivation_id": deriv,
        "primary_array": plan.layout.primary,
        "channels": list(spec.channels),
        "class_order": dict(CLASS_INDEX),
        "sequences": len(records),
        "manifest": f"../{MANIFEST_NAME}",
        "generator": f"gaitprep {__version__}",
    }


def _interrupted(stage: Path, out: Path, total: int) -> BuildInterrupted:
    """Ctrl-C: say what is kept and that running the same command again resumes."""
    finished = sum(1 for _ in (stage / DONE_DIR).glob("*.json")) if (stage / DONE_DIR).is_dir() else 0
    return BuildInterrupted(
        f"interrupted with {finished} of {total} sequences finished; run the same command again to "
        f"resume (finished sequences are kept in {stage.name} and reused)",
        out,
    )


def _existing_output(out: Path, deriv: str, force: bool) -> BuildResult | None:
    """An up-to-date result when ``out`` already holds this derivation; refuse to replace anything else."""
    manifest_path = out / MANIFEST_NAME
    if not out.exists():
        return None
    if manifest_path.is_file() and not force:
        existing = load_manifest(manifest_path)
        if existing.derivation_id == deriv:
            _check_up_to_date(out)
            return BuildResult(existing, out, up_to_date=True, reused=len(existing.records), built=0)
        raise DifferentDatasetError(
            "output already holds a different dataset (another derivation); choose a new --out or pass --force",
            out,
        )
    if not out.is_dir():
        raise BadInputError("output exists and is not a directory", out)
    if any(out.iterdir()) and not force:
        raise BadInputError("output directory exists and is not a gaitprep dataset; choose a new --out", out)
    return None


def _check_up_to_date(out: Path) -> None:
    """Refuse to call an output up to date when it fails the quick check (missing, resized or unlisted
    files, an edited manifest): "up to date" promises a usable dataset."""
    from gaitprep.verify import verify_dataset

    report = verify_dataset(out, "quick")
    if not report.ok:
        shown = "; ".join(str(p) for p in report.problems[:3])
        more = f" (+{len(report.problems) - 3} more)" if len(report.problems) > 3 else ""
        raise VerificationError(
            f"output holds this dataset but it does not verify: {shown}{more}; pass --force to rebuild it",
            out,
        )


def _commit(stage: Path, out: Path) -> None:
    """Rename the finished staging directory to ``out``; a replaced output is moved aside first, then deleted,
    so ``out`` never shows a half-deleted dataset."""
    if out.exists():  # only reached with force, or for an empty directory
        check_replaceable(out)  # the last look before anything is moved: only ours is ever replaced
        old = out.parent / f".{out.name}.replaced"
        if old.exists():
            shutil.rmtree(old)
        os.replace(out, old)
        os.replace(stage, out)
        shutil.rmtree(old)
    else:
        os.replace(stage, out)


def _reader_counts(records: list[SequenceRecord]) -> dict[str, Any]:
    """Dataset totals of what the raw-tree readers reported (only those that occurred)."""
    out: dict[str, Any] = {}
    person = sum((Counter(r.person_frames) for r in records), Counter())
    if any(person.values()):
        out["person_frames"] = dict(sorted(person.items()))
    unpaired = sum((Counter(r.unpaired_frames) for r in records), Counter())
    if unpaired:
        out["unpaired_frames"] = dict(sorted(unpaired.items()))
    if n := sum(r.nonfinite_joints for r in records):
        out["nonfinite_joints"] = n
    if n := sum(r.unpadded_frame_names for r in records):
        out["unpadded_frame_names"] = n
    return out


def _assemble(
    plan: BuildPlan, records: list[SequenceRecord], stage: Path, deriv: str, started: float, workers: int
) -> Manifest:
    files = []
    for path in sorted(p for p in stage.rglob("*") if p.is_file()):
        rel = path.relative_to(stage).as_posix()
        if rel.startswith(f"{DONE_DIR}/") or rel == MANIFEST_NAME:
            continue
        files.append(FileEntry(path=rel, bytes=path.stat().st_size, sha256=sha256_file(path)))
    counts: dict[str, Any] = {
        "sequences": len(records),
        "frames": sum(r.frames for r in records),
        "frames_in": sum(r.frames_in for r in records),
        "frames_dropped": dict(sorted(sum((Counter(r.frames_dropped) for r in records), Counter()).items())),
        **_reader_counts(records),
        "per_class": {c: sum(1 for r in records if r.label == c) for c in CLASS_ORDER},
        "per_split": {
            s: {c: sum(1 for r in records if r.label == c and r.split == s) for c in CLASS_ORDER}
            for s in ("train", "test")
        },
    }
    aggregate = plan.aggregate or default_aggregate
    folders = {c: sorted({r.class_folder for r in records if r.label == c}) for c in CLASS_ORDER}
    manifest = Manifest(
        name=plan.name,
        version=plan.version,
        modality=plan.modality,  # type: ignore[arg-type]
        generator=Generator(version=__version__, algo_version=plan.algo_version),
        layout=plan.layout,
        params=plan.params,
        params_digest=plan.params_digest,
        layout_digest=plan.layout_digest,
        class_order=dict(CLASS_INDEX),
        class_folders={c: ",".join(v) for c, v in folders.items() if v},
        source=plan.source,
        partition=partition_info(plan.partition, plan.items) if plan.partition else None,
        partition_missing_ids=tuple(plan.partition_missing),
        fitted=plan.fitted,
        records=tuple(records),
        files=tuple(files),
        counts=counts,
        statistics=aggregate([r.stats for r in records]),
        versions=bit_relevant_versions(),
        derivation_id=deriv,
        content_digest=content_digest(records),
        owner=plan.owner,
        provenance=Provenance(
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            host=socket.gethostname(),
            python=sys.version.split()[0],
            duration_s=round(time.time() - started, 3),
            workers=workers,
        ),
    )
    return seal(manifest)
