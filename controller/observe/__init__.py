"""Actual state: the V4L2 hardware (udev) and what MediaMTX is doing (Control API)."""
