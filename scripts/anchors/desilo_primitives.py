#!/usr/bin/env python3
"""Side-by-side machine-speed check: DESILO 2.0 mul+relinearize and one rotation at N = 2^16, 1 thread.

Run in the same window as `cachemir-run bench primitives` and compare with ../shared/anchors/ckks.md
(DESILO: 460 ms and 246 ms on the anchors' day) to see how fast the machine is today.

    python3 -m venv /tmp/desilo && /tmp/desilo/bin/pip install desilofhe
    /tmp/desilo/bin/python scripts/anchors/desilo_primitives.py
"""
import time

import numpy as np
from desilofhe import Engine

engine = Engine(mode="cpu", thread_count=1, bootstrap=True)
sk = engine.create_secret_key()
pk = engine.create_public_key(sk)
rlk = engine.create_relinearization_key(sk)
rot = engine.create_fixed_rotation_key(sk, 1)
ct = engine.encrypt(np.random.uniform(-1, 1, engine.slot_count), pk)


def median_ms(f, runs=3):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1e3)
    return sorted(times)[len(times) // 2]


print(f"slots {engine.slot_count}, level {ct.level}")
print(f"desilo mul+relin ms (anchor 460): {median_ms(lambda: engine.multiply(ct, ct, rlk)):.1f}")
print(f"desilo rotate ms (anchor 246): {median_ms(lambda: engine.rotate(ct, rot)):.1f}")
