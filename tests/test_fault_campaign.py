"""The fault campaign (tools/fault_campaign.py) keeps working: its quick classes run here and
hold; the whole campaign runs in `make orr`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _campaign() -> object:
    spec = importlib.util.spec_from_file_location(
        "fault_campaign", ROOT / "tools" / "fault_campaign.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["fault_campaign"] = module
    spec.loader.exec_module(module)
    return module


def test_the_quick_classes_of_the_campaign_hold() -> None:
    campaign = _campaign()
    for name in ("folder spellings", "damaged state directory", "recordings listing faults"):
        tally = campaign.Tally()  # type: ignore[attr-defined]
        campaign.CLASSES[name](tally)  # type: ignore[attr-defined]
        assert tally.tried >= 5 and tally.failures == [], (name, tally.failures)
