"""Streaming writers of ``particles.root`` / ``hits.root`` in the ACTS schemas (see schemas.py).

Events are appended one at a time; files are written under a temporary name and renamed into
place by :meth:`SimulationRootWriter.close`, so a crash never leaves a file that looks whole.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

import awkward as ak
import numpy as np
import numpy.typing as npt
import uproot

from acts_gnn.io.atomic import atomic_path
from acts_gnn.io.schemas import HIT_BRANCHES, HIT_TREE, PARTICLE_BRANCHES, PARTICLE_TREE

#: Name of the TObjString holding the generation settings (seed, pile-up, ...) in each file.
METADATA_KEY = "acts_gnn_metadata"


class SimulationRootWriter:
    """Appends events to ``<dir>/particles.root`` and ``<dir>/hits.root``.

    ``particles`` passed to :meth:`write_event` is a dict of equal-length 1-D arrays with the
    keys of ``PARTICLE_BRANCHES`` (but ``event_id``); ``hits`` likewise for ``HIT_BRANCHES``.
    """

    def __init__(self, output_dir: str | Path, metadata: dict[str, object] | None = None) -> None:
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.metadata = json.dumps(metadata or {}, sort_keys=True)
        self._final = {
            PARTICLE_TREE: self.output_dir / "particles.root",
            HIT_TREE: self.output_dir / "hits.root",
        }
        # each file is written under its atomic_path name; leaving the stack renames them
        self._renames = ExitStack()
        self._partial = {
            k: self._renames.enter_context(atomic_path(p)) for k, p in self._final.items()
        }
        self._files = {k: uproot.recreate(p) for k, p in self._partial.items()}
        for f in self._files.values():
            f[METADATA_KEY] = self.metadata
        self._particle_tree = self._files[PARTICLE_TREE].mktree(
            PARTICLE_TREE,
            {
                name: (dtype if name == "event_id" else f"var * {dtype.name}")
                for name, dtype in PARTICLE_BRANCHES.items()
            },
        )
        self._hit_tree = self._files[HIT_TREE].mktree(
            HIT_TREE, {name: dtype for name, dtype in HIT_BRANCHES.items()}
        )
        self.events_written = 0
        self._closed = False

    def write_event(
        self,
        event_id: int,
        particles: dict[str, npt.NDArray],
        hits: dict[str, npt.NDArray],
    ) -> None:
        """Append one event (particles: one tree entry; hits: one entry per hit)."""
        columns = {}
        for name, dtype in PARTICLE_BRANCHES.items():
            if name == "event_id":
                columns[name] = np.array([event_id], dtype=dtype)
            else:
                values = np.asarray(particles[name], dtype=dtype)
                columns[name] = ak.unflatten(values, [len(values)])
        self._particle_tree.extend(columns)
        n_hits = len(hits["geometry_id"])
        if n_hits:
            hit_columns = {
                name: (
                    np.full(n_hits, event_id, dtype=dtype)
                    if name == "event_id"
                    else np.asarray(hits[name], dtype=dtype)
                )
                for name, dtype in HIT_BRANCHES.items()
            }
            self._hit_tree.extend(hit_columns)
        self.events_written += 1

    def close(self) -> tuple[Path, Path]:
        """Finish both files and move them into place; returns (particles, hits) paths."""
        if not self._closed:
            for f in self._files.values():
                f.close()
            self._renames.close()
            self._closed = True
        return self._final[PARTICLE_TREE], self._final[HIT_TREE]

    def abort(self) -> None:
        """Close and delete the partial files (after an error)."""
        for f in self._files.values():
            f.close()
        aborted = RuntimeError("simulation writer aborted")
        self._renames.__exit__(type(aborted), aborted, None)  # removes the partial files
        self._closed = True

    def __enter__(self) -> SimulationRootWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
