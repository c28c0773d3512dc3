"""``python -m acts_gnn``: the ``acts-gnn`` command line (:func:`acts_gnn.cli.main`)."""

from acts_gnn.cli import main

raise SystemExit(main())
