"""`python -m skeleton_steering.train`: the train command under its original module name.

The command lives in `learn/train.py`; this name is kept so that existing scripts keep working.
"""

import sys

from skeleton_steering.learn.train import main

if __name__ == "__main__":
    sys.exit(main())
