"""The upstream partitions in data_manifests/ are unchanged and parse with the recorded counts."""

import json
from pathlib import Path

import pytest

from gaitprep.errors import BadInputError
from gaitprep.partition import check_ids_present, load_partition, parse_partition

ROOT = Path(__file__).resolve().parent.parent / "data_manifests" / "partitions"
# Domain reference §1.5: sha256 of the upstream files and train/test sizes.
EXPECTED = {
    "Scoliosis1K_112": ("b78261e70312c1d6871984b72932a9a4b8de6798a8d6603eafbb464f19e35608", 745, 748),
    "Scoliosis1K_114": ("65ab36147493ce7277bf6dca2d3dd493c1fbd7f325ba9948dfa713afdcc21f77", 745, 748),
    "Scoliosis1K_118": ("7c9f46cc981568a2b0f38b72c1ffdea563e549429b4d52c5e73b106b2a5da803", 744, 749),
    "Scoliosis1K_1116": ("57006925f5b2c9453675604e43c29d1e16b3eb75c3abb596640df76c086f8142", 745, 748),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_upstream_partition_is_unchanged_and_complete(name):
    sha, n_train, n_test = EXPECTED[name]
    part = load_partition(ROOT / f"{name}.json")
    assert part.sha256 == sha
    assert (len(part.train), len(part.test)) == (n_train, n_test)
    assert set(part.train) | set(part.test) == {f"{i:05d}" for i in range(1493)}
    index = json.loads((ROOT / "index.json").read_text())
    assert index["partitions"][f"{name}.json"]["sha256"] == sha


def test_partition_118_class_counts_match_the_published_table():
    index = json.loads((ROOT / "index.json").read_text())
    counts = index["partitions"]["Scoliosis1K_118.json"]["class_counts_by_id_block"]
    assert counts["train"] == {"negative": 596, "neutral": 74, "positive": 74}
    assert counts["test"] == {"negative": 204, "neutral": 126, "positive": 419}


def test_overlapping_partition_is_refused_naming_the_ids():
    data = json.dumps({"TRAIN_SET": ["00001", "00002"], "TEST_SET": ["00002"]}).encode()
    with pytest.raises(BadInputError, match="00002"):
        parse_partition(data, "p", "p.json")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"{not json", "not valid JSON"),
        (b'{"TRAIN_SET": []}', "exactly TRAIN_SET and TEST_SET"),
        (b'{"TRAIN_SET": [1], "TEST_SET": []}', "list of string ids"),
        (b'{"TRAIN_SET": ["a", "a"], "TEST_SET": []}', "more than once"),
    ],
)
def test_malformed_partition_is_bad_input(data, message):
    with pytest.raises(BadInputError, match=message):
        parse_partition(data, "p", "bad.json")


def test_partition_ids_missing_on_disk_are_named():
    part = parse_partition(b'{"TRAIN_SET": ["00001"], "TEST_SET": ["00009"]}', "p")
    with pytest.raises(BadInputError, match="00009"):
        check_ids_present(part, {"00001"})
