"""camctl: converge MediaMTX to the cameras, streams and recordings people declare."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("camctl")  # pyproject.toml is the one place the version is written
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
