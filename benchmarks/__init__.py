"""The jwtgate benchmark suite (``python -m benchmarks``); never run by the tests."""
