"""The benchmarks of SPEC section 8: `python -m bench` prints one JSON object per line."""
