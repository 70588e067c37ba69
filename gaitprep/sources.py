"""Turn an input (a release tree or an upstream dataset) into build items with fingerprints."""

from __future__ import annotations

from pathlib import Path

from gaitprep.build import SourceItem
from gaitprep.errors import BadInputError
from gaitprep.io.tree import Tree, discover_tree, release_layouts, sequence_fingerprint
from gaitprep.manifest import Manifest, SourceInfo, json_digest, load_manifest, resolve_manifest_path
from gaitprep.partition import Partition, check_ids_present


def open_tree(path: str | Path, want: tuple[str, ...]) -> Tree:
    """Open a tree of one of the ``want`` layouts: the tree itself, or a release root holding it."""
    path = Path(path)
    releases = release_layouts(path)
    for layout in want:
        if layout in releases:
            return discover_tree(releases[layout], layout)
    tree = discover_tree(path)
    if tree.layout not in want:
        raise BadInputError(f"input is a {tree.layout} tree; expected {' or '.join(want)}", path)
    return tree


def _split(partition: Partition | None, seq_id: str) -> str | None:
    return partition.split_of(seq_id) if partition else None


def tree_items(tree: Tree, partition: Partition | None, workers: int = 1) -> list[SourceItem]:
    """Build items for every sequence of ``tree`` (sha256 of every input file, in parallel)."""
    from joblib import Parallel, delayed

    if partition is not None:
        check_ids_present(partition, tree.ids)
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
        kind="tree", release=tree.layout, root=str(tree.root), digest=digest, sequences=len(items)
    )


def dataset_items(
    manifest_path: str | Path, partition: Partition | None = None
) -> tuple[Manifest, Path, list[SourceItem]]:
    """Items over the records of an upstream gaitprep dataset; lineage by its content digest."""
    mpath = resolve_manifest_path(manifest_path)
    manifest = load_manifest(mpath)
    root = mpath.parent
    if partition is not None:
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
