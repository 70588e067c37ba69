"""Never delete or replace what gaitprep did not write (issue 12).

The four ways a careless command line destroyed data, each refused up front with one ``error:`` line:
1. ``--force`` on an input tree, or on a folder holding someone's files;
2. ``gaitprep run`` replacing a dataset that another recipe or a command built;
3. ``train`` / ``evaluate`` / ``preview`` / ``export`` writing into a dataset;
4. ``--out`` inside (or holding) ``--input``.
What must hold each time: the exit code, exactly one ``error:`` line naming the path, every input byte for
byte as before (the whole tree is hashed), foreign files still there, datasets still verifying. And
``--force`` still rebuilds a dataset of ours, also a damaged one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from corpus.make_corpus import base, base_checkpoint, write_tree

from gaitmodels.cli import main as gaitmodels_main
from gaitprep.cli import main as gaitprep_main
from gaitprep.errors import BadInputError
from gaitprep.manifest import MANIFEST_NAME, load_manifest
from gaitprep.ownership import check_output_path, enclosing_dataset, is_our_dataset
from gaitprep.verify import verify_dataset

BIN = Path(sys.executable).parent


def tree_hash(root: Path) -> str:
    """sha256 over every entry under ``root`` (and ``root`` itself): relative path, kind, bytes or link
    target. Any added, removed, renamed or changed file or folder changes it."""
    h = hashlib.sha256()
    root = Path(root)
    entries = [root, *sorted(root.rglob("*"))] if root.is_dir() else [root]
    for p in entries:
        rel = p.relative_to(root).as_posix() if p != root else "."
        if p.is_symlink():
            h.update(f"L {rel} -> {os.readlink(p)}\n".encode())
        elif p.is_dir():
            h.update(f"D {rel}\n".encode())
        else:
            h.update(f"F {rel} {hashlib.sha256(p.read_bytes()).hexdigest()}\n".encode())
    return h.hexdigest()


def run_cli(main, *argv: str | Path) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, [str(a) for a in argv], env={"GAITPREP_DEBUG": None})
    return res.exit_code, res.stdout, res.stderr


def gaitprep(*argv: str | Path) -> tuple[int, str, str]:
    return run_cli(gaitprep_main, *argv)


def gaitmodels(*argv: str | Path) -> tuple[int, str, str]:
    return run_cli(gaitmodels_main, *argv)


def assert_refused(result: tuple[int, str, str], path: Path, problem: str, code: int = 1) -> None:
    exit_code, stdout, stderr = result
    lines = stderr.splitlines()
    assert exit_code == code, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert str(path) in lines[0], lines[0]
    assert problem in lines[0], lines[0]
    assert "Traceback" not in stdout + stderr


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A pose tree, a partition, two datasets built from them and a one-iteration checkpoint (read-only)."""
    paths = dict(base(tmp_path_factory.mktemp("ownership")))
    paths["checkpoint"] = base_checkpoint(paths["pose"].parent.parent)
    return paths


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A fresh pose-pkl tree this test may try to destroy."""
    return write_tree(tmp_path / "pose-pkl", "pose-pkl", n=6)


@pytest.fixture
def dataset(inputs: dict[str, Path], tmp_path: Path) -> Path:
    """A private copy of a skeleton-map dataset of ours."""
    out = tmp_path / "maps"
    shutil.copytree(inputs["maps"], out)
    return out


# --- the rule itself --------------------------------------------------------------------------------------


def test_a_dataset_is_ours_while_it_holds_only_what_its_manifest_lists(dataset: Path, tmp_path: Path) -> None:
    assert is_our_dataset(dataset)
    # Our scratch names (a lock, a staging folder, an atomic-write temporary) do not make it someone else's.
    (dataset / ".maps.lock").write_text("{}")
    (dataset / ".x.partial").mkdir()
    (dataset / ".x.partial" / "anything").write_text("x")
    (dataset / ".manifest.json.abc.tmp").write_text("x")
    assert is_our_dataset(dataset)
    # Damaged (a changed byte, a missing file) is still ours: --force may rebuild it.
    victim = dataset / next(f.path for f in load_manifest(dataset).files if "/maps/" in f.path)
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    assert not verify_dataset(dataset).ok and is_our_dataset(dataset)
    victim.unlink()
    assert is_our_dataset(dataset)
    # A file the manifest does not list, anywhere, makes it not ours; so does a link.
    (dataset / "data.zarr" / "notes.txt").write_text("mine")
    assert not is_our_dataset(dataset)
    (dataset / "data.zarr" / "notes.txt").unlink()
    (dataset / "link").symlink_to(tmp_path)
    assert not is_our_dataset(dataset)
    (dataset / "link").unlink()
    assert is_our_dataset(dataset)


def test_without_a_parsing_manifest_nothing_is_ours(dataset: Path, tmp_path: Path) -> None:
    (dataset / MANIFEST_NAME).write_text("{not json")
    assert not is_our_dataset(dataset)
    other = tmp_path / "other"
    other.mkdir()
    (other / MANIFEST_NAME).write_text(json.dumps({"name": "a node package"}))
    assert not is_our_dataset(other) and enclosing_dataset(other / "x", include_self=False) is None
    assert not is_our_dataset(tmp_path / "absent")
    (tmp_path / "file").write_text("x")
    assert not is_our_dataset(tmp_path / "file")


def test_check_output_path_refuses_each_relation_to_an_input(tree: Path, dataset: Path) -> None:
    cases = [
        (tree, "the output is also an input"),
        (tree / "00000" / "sub", f"lies inside the input {tree}"),
        (tree.parent, f"holds the input {tree}"),
        (dataset / "sub", f"lies inside the gaitprep dataset {dataset}"),
    ]
    for out, problem in cases:
        with pytest.raises(BadInputError, match=problem.replace("(", r"\(")) as info:
            check_output_path(out, inputs=[tree], kind="dataset")
        assert info.value.path == str(out)
    # A relative spelling or a symbolic link to the input is the same input.
    link = tree.parent / "alias"
    link.symlink_to(tree)
    with pytest.raises(BadInputError, match="also an input"):
        check_output_path(link, inputs=[tree], kind="dataset")
    with pytest.raises(BadInputError, match="lies inside the input"):
        check_output_path(link / "maps", inputs=[tree], kind="dataset")
    # A folder output (a run directory) may not be a dataset; a builder's output may (it is replaced).
    with pytest.raises(BadInputError, match="is the gaitprep dataset"):
        check_output_path(dataset, kind="folder")
    check_output_path(dataset, kind="dataset", force=True)
    check_output_path(tree.parent / "sibling", inputs=[tree], kind="dataset", force=True)


# --- 1. --force deletes whatever --out names ----------------------------------------------------------------


@pytest.mark.parametrize("command", ["render-heatmaps", "pav", "silhouettes"])
def test_force_onto_the_input_tree_is_refused_and_the_tree_survives(
    command: str, inputs: dict[str, Path], tmp_path: Path
) -> None:
    if command == "silhouettes":
        tree = write_tree(tmp_path / "sil-pkl", "sil-pkl", n=6)
    else:
        tree = write_tree(tmp_path / "pose-pkl", "pose-pkl", n=6)
    before = tree_hash(tmp_path)
    extra = ["--partition", inputs["partition"]] if command == "pav" else []
    for out, problem in ((tree, "also an input"), (tmp_path, "holds the input")):
        result = gaitprep(command, "--input", tree, "--out", out, *extra, "--force", "-q")
        assert_refused(result, out, problem)
        assert tree_hash(tmp_path) == before


@pytest.mark.parametrize("layout", ["empty-looking", "with-a-manifest"])
def test_force_onto_a_folder_holding_someone_elses_files_is_refused(
    layout: str, tree: Path, dataset: Path, tmp_path: Path
) -> None:
    if layout == "empty-looking":
        folder = tmp_path / "thesis"
        (folder / "chapters").mkdir(parents=True)
        (folder / "chapters" / "one.tex").write_text("my only copy")
        problem = "holds no gaitprep manifest"
    else:  # our dataset, into which someone put a file of their own
        folder = dataset
        (folder / "notes.txt").write_text("my only copy")
        problem = "holds files its manifest does not list: notes.txt"
    before = tree_hash(folder)
    result = gaitprep("render-heatmaps", "--input", tree, "--out", folder, "--force", "-q")
    assert_refused(result, folder, problem)
    assert "--force replaces only a gaitprep dataset" in result[2]
    assert tree_hash(folder) == before
    if layout == "with-a-manifest":
        (folder / "notes.txt").unlink()
        assert verify_dataset(folder, "content").ok


def test_force_still_rebuilds_our_dataset_also_a_damaged_one(inputs: dict[str, Path], dataset: Path) -> None:
    original = load_manifest(dataset)
    victim = dataset / next(f.path for f in original.files if "/maps/" in f.path)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01  # flip one bit of one chunk
    victim.write_bytes(bytes(data))
    assert not verify_dataset(dataset).ok
    argv = [
        "render-heatmaps",
        "--input",
        inputs["pose"],
        "--out",
        dataset,
        "--partition",
        inputs["partition"],
    ]
    # Unforced, the damaged dataset is left alone (the up-to-date look is the quick check: sizes only)...
    code, stdout, err = gaitprep(*argv)
    assert code == 0 and "up to date" in stdout, err
    assert victim.read_bytes() == bytes(data)
    # ...and --force rebuilds it: the same content as before the damage, verifying.
    code, _, err = gaitprep(*argv, "--force", "-q")
    assert code == 0, err
    assert verify_dataset(dataset, "content").ok
    assert load_manifest(dataset).content_digest == original.content_digest
    # --force with other parameters replaces our dataset with the new derivation.
    code, _, err = gaitprep(*argv, "--sigma", "6", "--force", "-q")
    assert code == 0, err
    rebuilt = load_manifest(dataset)
    assert rebuilt.derivation_id != original.derivation_id and verify_dataset(dataset, "content").ok
    assert sorted(p.name for p in dataset.parent.iterdir() if p.name.startswith(".")) == []


def test_force_onto_an_empty_folder_builds(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = gaitprep("render-heatmaps", "--input", tree, "--out", tmp_path / "empty", "--force", "-q")
    assert code == 0, err
    assert verify_dataset(tmp_path / "empty").ok


# --- 2. gaitprep run replaces a dataset it did not build -----------------------------------------------------


def write_recipe(folder: Path, name: str, sigma: float) -> Path:
    recipe = folder / f"{name}.yaml"
    recipe.write_text(
        f"name: {name}\ninputs:\n  pose: pose-pkl\noutput_root: datasets\nstages:\n"
        f"  - name: maps\n    kind: skeleton_maps\n    input: pose\n    params: {{preset: opengait, sigma: {sigma}}}\n"
    )
    return recipe


def test_run_refuses_a_dataset_built_by_hand_or_by_another_recipe_unless_forced(tree: Path) -> None:
    root = tree.parent
    out = root / "datasets" / "maps"
    code, _, err = gaitprep("render-heatmaps", "--input", tree, "--out", out, "--sigma", "3", "-q")
    assert code == 0, err
    by_hand = tree_hash(out)
    a = write_recipe(root, "alpha", 5)
    assert_refused(
        gaitprep("run", a, "-q"),
        out,
        "holds a dataset built by hand (a command, or a gaitprep that did not record owners yet), not by "
        "this recipe's stage 'maps'",
    )
    assert tree_hash(out) == by_hand and verify_dataset(out, "content").ok
    assert load_manifest(out).owner is None

    # --force replaces it (it is ours), and the new manifest names its owner.
    code, stdout, err = gaitprep("run", a, "--force")
    assert code == 0, err
    assert "replaced an older derivation" in stdout
    owner = load_manifest(out).owner
    assert (owner.recipe, owner.stage) == ("alpha", "maps") and verify_dataset(out).ok

    # Another recipe with a stage of the same name does not replace alpha's dataset.
    alpha = tree_hash(out)
    b = write_recipe(root, "beta", 7)
    assert_refused(gaitprep("run", b, "-q"), out, "built by recipe 'alpha', stage 'maps'")
    assert tree_hash(out) == alpha

    # The same recipe stage replaces its own earlier output without --force (the recipe changed).
    a.write_text(a.read_text().replace("sigma: 5", "sigma: 6"))
    code, stdout, err = gaitprep("run", a)
    assert code == 0, err
    assert "replaced an older derivation" in stdout and verify_dataset(out).ok
    assert load_manifest(out).params["sigma_limb"] == 6


def test_run_force_never_replaces_a_folder_of_someone_elses_files(tree: Path) -> None:
    root = tree.parent
    out = root / "datasets" / "maps"
    out.mkdir(parents=True)
    (out / "results.csv").write_text("my only copy")
    recipe = write_recipe(root, "alpha", 5)
    before = tree_hash(root)
    assert_refused(gaitprep("run", recipe, "-q"), out, "not a gaitprep dataset")
    assert_refused(gaitprep("run", recipe, "--force", "-q"), out, "not a gaitprep dataset")
    assert tree_hash(root) == before


def test_run_refuses_a_stage_output_inside_another_stages_input_before_building_anything(
    tmp_path: Path,
) -> None:
    pose = write_tree(tmp_path / "pose-pkl", "pose-pkl", n=6)
    sil = write_tree(tmp_path / "sil-pkl", "sil-pkl", n=6)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: r\ninputs:\n  pose: pose-pkl\n  sil: sil-pkl\noutput_root: sil-pkl/out\nstages:\n"
        "  - name: maps\n    kind: skeleton_maps\n    input: pose\n    params: {preset: opengait}\n"
        "  - name: silhouettes\n    kind: silhouettes\n    input: sil\n"
    )
    before = tree_hash(tmp_path)
    out = sil / "out" / "maps"  # the maps stage reads only pose-pkl, but would land in the sil-pkl tree
    assert_refused(gaitprep("run", recipe, "-q"), out, f"lies inside the input {sil}")
    assert tree_hash(tmp_path) == before
    assert pose.is_dir()


def test_run_rebuilds_a_damaged_stage_output_only_with_force(tree: Path) -> None:
    root = tree.parent
    recipe = write_recipe(root, "alpha", 5)
    assert gaitprep("run", recipe, "-q")[0] == 0
    out = root / "datasets" / "maps"
    (out / load_manifest(out).files[-1].path).unlink()
    code, _, err = gaitprep("run", recipe, "-q")
    assert code == 3 and "pass --force" in err
    code, _, err = gaitprep("run", recipe, "--force", "-q")
    assert code == 0, err
    assert verify_dataset(out, "content").ok


# --- 3. commands write into datasets -----------------------------------------------------------------------------


def test_train_evaluate_preview_and_export_never_write_into_a_dataset(
    inputs: dict[str, Path], dataset: Path, tmp_path: Path
) -> None:
    before = tree_hash(dataset)
    train = ["train", "--manifest", dataset, "--model", "sconet-mt-ske", "--widths", "4,8,16,32"]
    train += ["--batch", "2,2", "--frames", "4", "--iterations", "1", "--device", "cpu", "-q"]
    for out, problem in ((dataset, "is the gaitprep dataset"), (dataset / "run", "lies inside the gaitprep")):
        assert_refused(gaitmodels(*train, "--out", out), out, problem)
    evaluate = ["evaluate", "--checkpoint", inputs["checkpoint"], "--manifest", dataset, "--device", "cpu"]
    out = dataset / "eval"
    assert_refused(gaitmodels(*evaluate, "--out", out, "-q"), out, "lies inside the gaitprep dataset")
    out = dataset / "data.zarr" / "preview.png"
    assert_refused(gaitprep("preview", dataset, "--out", out), out, "lies inside the gaitprep dataset")
    # Another dataset is protected as well as the one read.
    out = dataset / "x.h5"
    assert_refused(
        gaitprep("export", inputs["maps_pkl"], "--to", "hdf5", out), out, "lies inside the gaitprep"
    )
    assert tree_hash(dataset) == before
    assert verify_dataset(dataset, "content").ok
    # Outside the dataset the same commands work; evaluate replaces its own earlier folder only when
    # forced (an evaluation is never overwritten silently: issue 18).
    ok = tmp_path / "eval"
    for extra, expected in (((), 0), ((), 1), (("--force",), 0)):
        code, _, err = gaitmodels(*evaluate, "--out", ok, "-q", *extra)
        assert code == expected, err
    assert sorted(p.name for p in ok.iterdir()) == [
        "confusion.png", "metrics.json", "predictions.json", "reliability.png", "roc.png"
    ]  # fmt: skip
    code, _, err = gaitprep("preview", dataset, "--out", tmp_path / "preview.png")
    assert code == 0, err


def test_train_resume_still_writes_into_its_run_directory(dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train = ["train", "--manifest", dataset, "--model", "sconet-mt-ske", "--widths", "4,8,16,32"]
    train += ["--batch", "2,2", "--frames", "4", "--device", "cpu", "--save-every", "1", "-q"]
    code, _, err = gaitmodels(*train, "--iterations", "1", "--out", run)
    assert code == 0, err
    code, _, err = gaitmodels(*train, "--iterations", "2", "--resume", run)
    assert code == 0, err
    assert (run / "checkpoints" / "iter-000002.pt").is_file()
    # A run directory inside the dataset it trains on is refused before anything is written.
    before = tree_hash(dataset)
    out = dataset / "r"
    assert_refused(
        gaitmodels(*train, "--iterations", "1", "--out", out), out, "lies inside the gaitprep dataset"
    )
    assert tree_hash(dataset) == before


def test_a_new_run_never_overwrites_a_metrics_csv_it_did_not_write(dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "results"
    run.mkdir()
    (run / "metrics.csv").write_text("my only copy")
    train = ["train", "--manifest", dataset, "--model", "sconet-mt-ske", "--widths", "4,8,16,32"]
    train += ["--batch", "2,2", "--frames", "4", "--iterations", "1", "--device", "cpu", "-q"]
    assert_refused(
        gaitmodels(*train, "--out", run), run, "holds a metrics.csv that a new run would overwrite"
    )
    assert [p.name for p in run.iterdir()] == ["metrics.csv"]
    assert (run / "metrics.csv").read_text() == "my only copy"


# --- 4. --out inside --input ----------------------------------------------------------------------------------------


def test_an_output_inside_the_input_is_refused_and_the_tree_stays_readable(
    tree: Path, tmp_path: Path
) -> None:
    before = tree_hash(tree)
    for command in ("render-heatmaps", "silhouettes"):
        out = tree / "maps"
        assert_refused(
            gaitprep(command, "--input", tree, "--out", out, "-q"), out, f"lies inside the input {tree}"
        )
    assert tree_hash(tree) == before
    code, _, err = gaitprep("inspect", tree, "-q")
    assert code == 0, err


def test_a_release_root_holding_the_input_layout_is_also_an_input(tmp_path: Path) -> None:
    root = tmp_path / "release"
    tree = write_tree(root / "pose-pkl", "pose-pkl", n=6)
    before = tree_hash(root)
    out = root / "maps"
    assert_refused(
        gaitprep("render-heatmaps", "--input", root, "--out", out, "-q"), out, "lies inside the input"
    )
    out = root / "pose-pkl" / "maps"
    assert_refused(
        gaitprep("render-heatmaps", "--input", tree, "--out", out, "-q"), out, "lies inside the input"
    )
    assert tree_hash(root) == before


# --- a real process: exactly one stderr line, exit 1 -----------------------------------------------------------


@pytest.mark.parametrize("case", ["force-input", "inside-input", "into-dataset"])
def test_a_real_process_refuses_with_exactly_one_stderr_line(
    case: str, inputs: dict[str, Path], tree: Path, dataset: Path
) -> None:
    if case == "force-input":
        argv, out = ["gaitprep", "render-heatmaps", "--input", tree, "--out", tree, "--force"], tree
    elif case == "inside-input":
        out = tree / "00000" / "maps"
        argv = ["gaitprep", "pav", "--input", tree, "--partition", inputs["partition"], "--out", out]
    else:
        out = dataset / "preview.png"
        argv = ["gaitprep", "preview", dataset, "--out", out]
    watched = tree if case != "into-dataset" else dataset
    before = tree_hash(watched)
    res = subprocess.run(
        [str(BIN / argv[0]), *map(str, argv[1:])], capture_output=True, text=True, timeout=120
    )
    lines = res.stderr.splitlines()
    assert res.returncode == 1, res.stderr
    assert len(lines) == 1 and lines[0].startswith(f"error: {out}: "), lines
    assert "Traceback" not in res.stdout + res.stderr
    assert tree_hash(watched) == before
