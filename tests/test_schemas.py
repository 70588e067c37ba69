"""The JSON Schema files under schemas/ are generated from the pydantic models and must not go stale."""

from gaitprep.schemas import SCHEMA_DIR, render_schemas


def test_schema_files_match_the_pydantic_models():
    rendered = render_schemas()
    on_disk = {p.name for p in SCHEMA_DIR.glob("*.schema.json")}
    assert on_disk == set(rendered), "run: python -m gaitprep.schemas"
    for name, data in rendered.items():
        assert (SCHEMA_DIR / name).read_bytes() == data, f"{name} is stale; run: python -m gaitprep.schemas"


def test_manifest_schema_requires_the_hazard_fields():
    import json

    schema = json.loads(render_schemas()["manifest.schema.json"])
    for field in (
        "modality",
        "class_order",
        "params",
        "partition",
        "source",
        "records",
        "content_digest",
        "derivation_id",
        "versions",
    ):
        assert field in schema["required"], field
