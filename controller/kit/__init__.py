"""Small tools every layer may use: no knowledge of cameras, MediaMTX or the flow of a pass."""
