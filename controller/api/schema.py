"""JSON Schema for camctl documents, generated from the models (one source of truth).

Editors (the YAML language server, for one) validate files against it as people type.
"""

from __future__ import annotations

from typing import Any

from controller.api.kinds import API_VERSION, RESOURCE

SCHEMA_ID = "https://camctl.dev/schemas/v1alpha1/document.json"


def document_schema() -> dict[str, Any]:
    schema = RESOURCE.json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"camctl document ({API_VERSION})",
        **schema,
    }
