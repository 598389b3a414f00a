"""camctl benchmarks: `make bench` (python -m benchmarks). Medians and ratios, not timings
in tests: the machines are shared and noisy."""
