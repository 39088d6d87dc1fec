"""Command-line entry points: ``python -m lsqcore {demo,bench,study}``.

Each command lives in its own module exposing ``add_parser(subparsers)``
and ``run(args) -> int``.
"""
import argparse
import importlib

COMMANDS = ("demo", "bench", "study", "speed")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lsqcore",
                                     description="lsqcore: nonlinear least squares compiled with Numba")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            continue
        mod.add_parser(sub)
        modules[name] = mod
    args = parser.parse_args(argv)
    return modules[args.command].run(args)
