"""The read-only view: JSON-RPC over HTTP and WebSocket, metrics, health, clients, dashboard.

Nothing here changes MediaMTX, the documents or the controller: the view registers as a
status sink, keeps an immutable snapshot of what the controller last saw and decided, and
answers from it (serialised answers are cached per snapshot version).
"""

DEFAULT_ADDRESS = "127.0.0.1:9990"  # where `camctl run --view` listens by default
DEFAULT_URL = f"http://{DEFAULT_ADDRESS}"
