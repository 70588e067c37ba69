"""JSON Schema files under ``schemas/``, generated from the pydantic models.

``python -m gaitprep.schemas`` rewrites them; ``tests/test_schemas.py`` fails when they are stale.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

# file stem -> "module:Model"
SCHEMA_MODELS: dict[str, str] = {
    "manifest": "gaitprep.manifest:Manifest",
    "sequence-record": "gaitprep.manifest:SequenceRecord",
    "silhouette-spec": "gaitprep.silhouettes:SilhouetteSpec",
    "heatmap-spec": "gaitprep.heatmaps.spec:HeatmapSpec",
    "pav-spec": "gaitprep.pav:PavSpec",
    "recipe": "gaitprep.pipelines.recipe:Recipe",
}

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def render_schemas() -> dict[str, bytes]:
    """File name -> schema bytes (sorted keys, so the files are stable)."""
    out = {}
    for stem, target in SCHEMA_MODELS.items():
        module, name = target.split(":")
        model = getattr(importlib.import_module(module), name)
        schema = model.model_json_schema()
        out[f"{stem}.schema.json"] = (json.dumps(schema, indent=2, sort_keys=True) + "\n").encode()
    return out


def write_schemas(out_dir: Path = SCHEMA_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in render_schemas().items():
        path = out_dir / name
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_schemas(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(p)
