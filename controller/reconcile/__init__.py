"""From desired and observed state to actions: render, plan (pure) and apply."""
