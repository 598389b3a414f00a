"""camctl: converge MediaMTX to the cameras, streams and recordings people declare."""

__version__ = "0.1.0"
