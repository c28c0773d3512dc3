"""``python -m acts_gnn.cli`` (and ``torchrun ... -m acts_gnn.cli train gnn ...``): ``acts-gnn``."""

import sys

from acts_gnn.cli import main

sys.exit(main())
