"""`python -m skeleton_steering.eval`: the eval command under its original module name.

The command lives in `evaluate/eval_cli.py`; this name is kept so that existing scripts keep
working.
"""

import sys

from skeleton_steering.evaluate.eval_cli import main

if __name__ == "__main__":
    sys.exit(main())
