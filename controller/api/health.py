"""The controller's own health: what `camctl status`, the status files and the view show.

One model, camelCase on the wire like every status, kept by the loop and read by the view.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from controller.api.conditions import now


class Health(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        json_schema_serialization_defaults_required=True,  # an answer always has every field
    )

    started: str = Field(default_factory=lambda: now().isoformat())
    passes: int = 0
    last_pass: str | None = None
    last_success: str | None = None
    last_pass_succeeded: bool | None = Field(
        default=None, description="The last pass reached MediaMTX and made every write it had to"
    )
    last_reasons: list[str] = Field(default_factory=list)
    mediamtx_reachable: bool | None = None
    mediamtx_version: str | None = None
    errors: list[str] = Field(
        default_factory=list,
        description="Documents that do not load, MediaMTX unreachable, failed writes, a "
        "damaged state directory: each until it is mended",
    )
    notes: list[str] = Field(
        default_factory=list, description="What camctl keeps or holds back, and why"
    )
