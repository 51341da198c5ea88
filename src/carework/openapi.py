"""The exported OpenAPI document: stable JSON, so the checked-in file diffs cleanly."""

from __future__ import annotations

import json

from carework.app import create_app
from carework.config import Settings


def render_spec() -> str:
    # The spec does not depend on the database; a placeholder URL keeps the factory offline.
    app = create_app(Settings(database_url="postgresql://spec@localhost/spec", dev_auth=False))
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
