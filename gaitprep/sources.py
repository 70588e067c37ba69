"""Turn an input (a release tree or an upstream dataset) into build items with fingerprints."""

from __future__ import annotations

from pathlib import Path

from gaitprep.build import SourceItem
from gaitprep.errors import BadInputError
from gaitprep.io.read_options import DEFAULT_READ, ReadOptions
from gaitprep.io.tree import Tree, discover_tree, release_layouts, sequence_fingerprint
from gaitprep.manifest import Manifest, SourceInfo, json_digest, load_manifest, resolve_manifest_path
from gaitprep.partition import Partition, check_ids_present

RAW_LAYOUTS = ("sil-raw", "pose-raw")


def open_tree(path: str | Path, want: tuple[str, ...], read: ReadOptions = DEFAULT_READ) -> Tree:
    """Open a tree of one of the ``want`` layouts: the tree itself, or a release root holding it."""
    path = Path(path)
    releases = release_layouts(path)
    for layout in want:
        if layout in releases:
            return discover_tree(releases[layout], layout, read=read)
    tree = discover_tree(path, read=read)
    if tree.layout not in want:
        raise BadInputError(f"input is a {tree.layout} tree; expected {' or '.join(want)}", path)
    return tree


def _split(partition: Partition | None, seq_id: str) -> str | None:
    return partition.split_of(seq_id) if partition else None


def read_params(tree: Tree) -> dict[str, object]:
    """The reader options a raw tree was read with, for a manifest's params (nothing for pickle trees,
    which have no frame files and one person per frame)."""
    if tree.layout not in RAW_LAYOUTS or not tree.sequences:
        return {}
    read = tree.sequences[0].read.model_dump(mode="json")
    if tree.layout == "sil-raw":
        read.pop("person")
    return {"read": read}


def partition_missing(
    partition: Partition | None, ids: set[str], strict: bool = False, where: object | None = None
) -> tuple[str, ...]:
    """Partition ids the input does not hold: an error with ``strict``, else returned for the manifest.

    Building what is on disk is the default (a layout may hold a subset of the ids, e.g. silhouettes for
    some subjects only); the ids are recorded and the command prints a warning with their count.
    """
    if partition is None:
        return ()
    if strict:
        check_ids_present(partition, ids, where)
    return tuple(sorted((set(partition.train) | set(partition.test)) - ids))


def tree_items(tree: Tree, partition: Partition | None, workers: int = 1) -> list[SourceItem]:
    """Build items for every sequence of ``tree`` (sha256 of every input file, in parallel)."""
    from joblib import Parallel, delayed

    refs = tree.sequences
    if workers > 1 and len(refs) > 8:
        digests = Parallel(n_jobs=workers)(delayed(sequence_fingerprint)(r) for r in refs)
    else:
        digests = [sequence_fingerprint(r) for r in refs]
    return [
        SourceItem(r.id, r.label, r.class_folder, r.view, _split(partition, r.id), d, (r,))
        for r, d in zip(refs, digests, strict=True)
    ]


def tree_source_info(tree: Tree, items: list[SourceItem]) -> SourceInfo:
    digest = json_digest(sorted((i.key, i.source_digest) for i in items))
    return SourceInfo(
        kind="tree",
        release=tree.layout,
        root=str(tree.root),
        digest=digest,
        sequences=len(items),
        keypoint_format=keypoint_format(tree),
    )


def keypoint_format(tree: Tree) -> str | None:
    """For a pose-raw tree: ``coco17``, ``body25`` (read as COCO-17) or ``body25+coco17``, from the first
    frame of every sequence that lists a person."""
    from gaitprep.io.frames import parse_pose_frame

    if tree.layout != "pose-raw":
        return None
    found: set[str] = set()
    for ref in tree.sequences:
        for path in ref.files():
            frame = parse_pose_frame(path.read_bytes(), path)
            if frame.people or frame.zero_entries:
                found.add("body25" if frame.body25 else "coco17")
                break
    return "+".join(sorted(found)) or None


def dataset_items(
    manifest_path: str | Path, partition: Partition | None = None, strict_partition: bool = False
) -> tuple[Manifest, Path, list[SourceItem]]:
    """Items over the records of an upstream gaitprep dataset; lineage by its content digest."""
    mpath = resolve_manifest_path(manifest_path)
    manifest = load_manifest(mpath)
    root = mpath.parent
    if partition is not None and strict_partition:
        check_ids_present(partition, {r.id for r in manifest.records})
    items = [
        SourceItem(
            r.id,
            r.label,
            r.class_folder,
            r.view,
            _split(partition, r.id) if partition else r.split,
            json_digest({k: a.digest for k, a in r.arrays.items()}),
            (str(root.absolute()), r.model_dump(mode="json")),  # absolute: workers may run elsewhere
        )
        for r in manifest.records
    ]
    return manifest, root, items


def dataset_source_info(manifests: list[tuple[Manifest, Path]], items: list[SourceItem]) -> SourceInfo:
    digest = json_digest(sorted((i.key, i.source_digest) for i in items))
    upstream = tuple(
        {
            "name": m.name,
            "modality": m.modality,
            "path": str(p),
            "content_digest": m.content_digest,
            "manifest_digest": m.manifest_digest,
            "derivation_id": m.derivation_id,
        }
        for m, p in manifests
    )
    return SourceInfo(
        kind="dataset",
        release=manifests[0][0].modality,
        root=str(manifests[0][1]),
        digest=digest,
        sequences=len(items),
        upstream=upstream,
    )
