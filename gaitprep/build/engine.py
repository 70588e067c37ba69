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

This module holds the plan and result types, the checks and :func:`build_dataset`; the lock, staging and
commit live in :mod:`gaitprep.build.staging`, the serial/joblib/dask runner in :mod:`gaitprep.build.runner`
and the manifest's assembly in :mod:`gaitprep.build.assemble`. ``build_dataset`` takes the plan and one
:class:`~gaitprep.build.options.BuildOptions`.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep import __version__
from gaitprep.build.assemble import assemble
from gaitprep.build.options import DEFAULT_OPTIONS, BuildOptions
from gaitprep.build.runner import exit_if_orphaned, run_parallel
from gaitprep.build.staging import DONE_DIR, BuildLock, commit, done_name, files_ok, interrupted, staging_dir
from gaitprep.errors import BadInputError, DifferentDatasetError, GaitprepError, VerificationError
from gaitprep.io.atomic import atomic_write_bytes, canonical_json
from gaitprep.io.store import finalize_zarr_root, init_zarr_root, remove_sequence, write_sequence
from gaitprep.manifest import (
    MANIFEST_NAME,
    ArrayRecord,
    Layout,
    Manifest,
    Owner,
    SequenceRecord,
    SourceInfo,
    array_digest,
    content_digest,
    derivation_id,
    json_digest,
    load_manifest,
    manifest_bytes,
)
from gaitprep.ownership import check_output_path
from gaitprep.partition import Partition
from gaitprep.skeleton import CLASS_INDEX


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
    exit_if_orphaned(parent)
    result = plan_process(item)
    _check_result(result, item, layout)
    exit_if_orphaned(parent)
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
    atomic_write_bytes(stage / DONE_DIR / done_name(item), canonical_json(record.model_dump(mode="json")))
    return record


def _reusable(stage: Path, item: SourceItem) -> SequenceRecord | None:
    done = stage / DONE_DIR / done_name(item)
    if not done.is_file():
        return None
    try:
        record = SequenceRecord.model_validate_json(done.read_bytes())
    except ValueError:
        return None
    if record.source_digest != item.source_digest or record.split != item.split:
        return None
    return record if files_ok(stage, record.files) else None


def build_dataset(plan: BuildPlan, options: BuildOptions = DEFAULT_OPTIONS) -> BuildResult:
    """Build ``plan`` into ``plan.out`` (see the module docstring). Returns the sealed manifest.

    ``options`` says how to run and whether to replace: ``workers``, ``dask_address``, ``quiet``, ``force``.
    What the dataset records (``name``, ``partition``, ``owner``) is the plan's, which the builders fill
    from the same options (:func:`gaitprep.build.plans.make_plan`).
    """
    out = Path(plan.out)
    force = options.force
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
    with BuildLock(out):
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
            built = run_parallel(todo, build_one, plan.process, stage, plan.layout, options, plan.name)
        except KeyboardInterrupt:
            raise interrupted(stage, out, len(plan.items)) from None
        records = sorted([*reused.values(), *built], key=lambda r: r.key)
        if "zarr" in plan.layout.formats:
            finalize_zarr_root(stage, zarr_root_attrs(plan, records, deriv))
        manifest = assemble(plan, records, stage, deriv, started, options.workers)
        # The manifest first: if writing it fails (a full disk), the done-records still let a re-run reuse
        # every sequence. They go only once the manifest is safely written.
        atomic_write_bytes(stage / MANIFEST_NAME, manifest_bytes(manifest))
        shutil.rmtree(stage / DONE_DIR)
        commit(stage, out)
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
