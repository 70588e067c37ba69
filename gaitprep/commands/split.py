"""``gaitprep split``: a subject-disjoint upstream-format partition from a release tree and a subject map."""

from __future__ import annotations

import click

from gaitprep.cliutil import emit, json_option
from gaitprep.partition import DEFAULT_RATIO


@click.command("split")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="A release tree (any layout) or a release root.",
)
@click.option(
    "--subjects",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="CSV with a header naming 'id' and 'subject' columns.",
)
@click.option(
    "--ratio",
    default=DEFAULT_RATIO,
    show_default=True,
    help="TRAIN class ratio positive:neutral:negative, as upstream names its partitions.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False), help="Partition JSON to write (new file)."
)
@json_option
def split(input_path: str, subjects: str, ratio: str, seed: int, out: str, as_json: bool) -> None:
    """Split by subject: TRAIN and TEST share no subject, TRAIN's class counts as close to --ratio as
    whole subjects allow (about half the sequences), every other subject in TEST. Prints the achieved
    counts. The file has upstream's format ({"TRAIN_SET": [...], "TEST_SET": [...]})."""
    from gaitprep.subjects import split_release

    r = split_release(input_path, subjects, ratio, seed, out)
    t, a = r["target"]["train"], r["achieved"]

    def counts(d: dict[str, int]) -> str:
        return " / ".join(str(d[c]) for c in ("positive", "neutral", "negative"))

    human = "\n".join(
        [
            f"wrote {r['out']} (sha256 {r['sha256'][:12]}): {len(r['train'])} train / {len(r['test'])} test "
            f"sequences, {r['subjects']['train']} / {r['subjects']['test']} subjects, none on both sides",
            f"  train positive / neutral / negative: {counts(a['train'])} (ratio {r['ratio']} asks for "
            f"{counts(t)})",
            f"  test  positive / neutral / negative: {counts(a['test'])}",
        ]
    )
    emit(r, as_json, human)
