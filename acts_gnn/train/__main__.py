"""``python -m acts_gnn.train --config FILE.yaml`` (and ``torchrun ... -m acts_gnn.train``)."""

import sys

from acts_gnn.cli import train_main

sys.exit(train_main())
