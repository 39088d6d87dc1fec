"""``python -m lsqcore <command>``: demo, and the commands of lsqcore.cli."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
