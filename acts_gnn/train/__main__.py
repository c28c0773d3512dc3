"""``python -m acts_gnn.train --config FILE.yaml`` (and ``torchrun ... -m acts_gnn.train``)."""

import sys

from acts_gnn.train.commands import main

sys.exit(main())
