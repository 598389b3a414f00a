"""Stand-ins for the outside world, shipped for tests and the offline demo."""
