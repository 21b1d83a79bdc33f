"""Time the canonical array digest against hashlib.sha256 on the same bytes.

    python bench/probes/digest_probe.py MIB RUNS

Prints JSON: seconds per pass over MIB MiB of float32 arrays (four arrays),
for each method, the passes alternating.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time

import numpy as np

from reprospec.digest import array_digest


def main(mib: int, runs: int) -> None:
    rng = np.random.default_rng(0)
    count = mib * (1 << 20) // 4 // 4
    arrays = [rng.random(count, dtype=np.float32) for _ in range(4)]
    canonical, plain = [], []
    for _ in range(runs):
        start = time.perf_counter()
        for array in arrays:
            array_digest(array)
        canonical.append(time.perf_counter() - start)
        start = time.perf_counter()
        for array in arrays:
            hashlib.sha256(memoryview(array).cast("B")).hexdigest()
        plain.append(time.perf_counter() - start)
    nbytes = sum(a.nbytes for a in arrays)
    print(json.dumps({"bytes": nbytes, "canonical": canonical, "sha256": plain}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
