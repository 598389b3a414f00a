"""Desired state: where the declared resources come from (files, Kubernetes)."""
