"""Where a small fit's microseconds go: ``perf`` with the kernel's functions named.

``perf`` sees Numba's machine code as anonymous ``[JIT]`` addresses.  This
script compiles the kernel in-process (point ``NUMBA_CACHE_DIR`` at an empty
directory: code loaded from the disk cache keeps no symbol table), writes
``/tmp/perf-<pid>.map`` with the address of every compiled function of the
kernel's C entries and of the cached driver
(:func:`lsqcore._numba_internals.machine_code_symbols`), then fits a
workload in a loop for ``seconds``.  Record only the loop: start ``perf``
disabled with a control FIFO, which the script enables when the loop
starts (``PERF_CTL_FIFO``)::

    mkfifo /tmp/perf.ctl
    NUMBA_CACHE_DIR=$(mktemp -d) PERF_CTL_FIFO=/tmp/perf.ctl perf record -F 4000 -D -1 \\
        --control fifo:/tmp/perf.ctl -o perf.data python benchmarks/perf_profile.py W1 trf 20
    perf report -i perf.data --no-children --sort sym

docs/benchmarks.md records a W1 profile taken this way.
"""
import os
import sys
import time

import lsqcore
from lsqcore import _kernel
from lsqcore._driver import solve_by_address
from lsqcore._numba_internals import machine_code_symbols
from lsqcore._workloads import WORKLOADS


def write_perf_map():
    """``/tmp/perf-<pid>.map`` for the kernel and the cached driver; returns its size."""
    libraries = [_kernel._advance_c._library, _kernel._setup_c._library]
    libraries += [cres.library for cres in solve_by_address.overloads.values()]
    symbols = {}
    for library in libraries:
        symbols.update(machine_code_symbols(library))
    addresses = sorted(symbols)
    with open(f"/tmp/perf-{os.getpid()}.map", "w") as fh:
        for a, b in zip(addresses, addresses[1:] + [addresses[-1] + 4096]):
            fh.write(f"{a:x} {min(b - a, 1 << 20):x} {symbols[a]}\n")
    return len(addresses)


def main(name="W1", method="trf", seconds=45.0):
    w = WORKLOADS[name]()
    for _ in range(100):
        lsqcore.least_squares(w.fun, w.x0, args=w.args, method=method)
    count = write_perf_map()
    if count == 0:
        print("no symbols: the kernel came from the disk cache; set NUMBA_CACHE_DIR to an "
              "empty directory", file=sys.stderr)
    print(f"ready ({count} symbols)", flush=True)
    fifo = os.environ.get("PERF_CTL_FIFO")
    if fifo:
        with open(fifo, "w") as fh:      # perf record --control fifo:...: start recording
            fh.write("enable\n")
    t0 = time.perf_counter()
    k = 0
    while time.perf_counter() - t0 < seconds:
        lsqcore.least_squares(w.fun, w.x0, args=w.args, method=method)
        k += 1
    print(f"{(time.perf_counter() - t0) / k * 1e6:.1f} us per fit ({k} fits)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "W1", sys.argv[2] if len(sys.argv) > 2 else "trf",
         float(sys.argv[3]) if len(sys.argv) > 3 else 45.0)
