"""Deletes: owned paths nothing claims any more, when the documents can be trusted to say so."""

from __future__ import annotations

from controller.reconcile.plan.actions import Action, Withheld
from controller.reconcile.plan.state import Pass


def plan_deletes(state: Pass) -> None:
    """Delete owned paths nothing claims, unless the documents cannot be trusted to say so
    (see the module docstring) or nothing at all is declared."""
    orphans = sorted(set(state.inventory) - set(state.claimed) - state.kept)
    if orphans and not state.desired and not state.settings.allow_empty:
        state.notes.append(
            f"no resources are declared: keeping {len(orphans)} owned path(s); "
            "pass --allow-empty to remove them"
        )
        state.kept.update(orphans)
        return
    for path in orphans:
        if state.paths is None or path not in state.paths:
            if state.paths is None:
                state.kept.add(path)
            continue
        state.kept.add(path)  # owned until the delete succeeds
        delete = Action("delete", path, diff={"path": (path, None)})
        # A camera unplugged is a fact; a Stream gone from the documents may be a misread.
        if reason := state.hold_back(from_documents=path not in state.unplugged):
            state.withheld.append(Withheld(delete, reason))
        else:
            state.actions.append(delete)
