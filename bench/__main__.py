"""`python -m bench`: run the benchmarks (see README.md); `python -m bench chaos`: make chaos."""

from __future__ import annotations

import sys

from bench import chaos
from bench.runner import main

if __name__ == "__main__":
    if sys.argv[1:2] == ["chaos"]:
        sys.exit(chaos.main(sys.argv[2:]))
    sys.exit(main())
