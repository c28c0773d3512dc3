"""Read ``particles.root`` / ``hits.root`` in the ACTS schemas (ours, or a full ACTS build's).

:class:`SimulationFiles` opens and validates both files up front (missing file, tree, branch,
wrong type: an :class:`~acts_gnn.errors.InputDataError` naming the file and field) and gives
per-event numpy columns. :func:`make_root_reader` wraps it as an ``acts.examples.IReader`` that
puts ``SimParticleContainer`` / ``SimHitContainer`` on the whiteboard, checking each event for
NaN positions on the way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import uproot

from acts_gnn.errors import InputDataError
from acts_gnn.io.schemas import (
    HIT_BRANCHES,
    HIT_TREE,
    PARTICLE_BRANCHES,
    PARTICLE_TREE,
    REQUIRED_HIT_BRANCHES,
    REQUIRED_PARTICLE_BRANCHES,
)

#: Hit columns that must be finite in every event.
FINITE_HIT_FIELDS = ("tx", "ty", "tz")
FINITE_PARTICLE_FIELDS = ("vx", "vy", "vz", "px", "py", "pz")


def _open_tree(path: Path, tree_name: str) -> Any:
    if not path.is_file():
        raise InputDataError("file does not exist", file=path)
    try:
        handle = uproot.open(path)
    except Exception as err:  # uproot raises several types for non-ROOT input
        raise InputDataError(f"not a readable ROOT file: {err}", file=path) from err
    if tree_name not in handle:
        raise InputDataError(
            f"no tree {tree_name!r}; the file holds {sorted(k.split(';')[0] for k in handle)}",
            file=path,
            field=tree_name,
        )
    return handle[tree_name]


def _check_branches(
    tree: Any, path: Path, required: tuple[str, ...], schema: dict[str, np.dtype]
) -> None:
    present = set(tree.keys())
    for name in required:
        if name not in present:
            raise InputDataError(f"missing branch of tree {tree.name!r}", file=path, field=name)
        expected = schema[name]
        try:
            got = (
                np.dtype(tree[name].interpretation.content.to_dtype)
                if hasattr(tree[name].interpretation, "content")
                else np.dtype(tree[name].interpretation.to_dtype)
            )
        except (AttributeError, TypeError) as err:
            raise InputDataError(
                f"branch has an unreadable type ({tree[name].typename}); expected {expected}",
                file=path,
                field=name,
            ) from err
        if got.kind != expected.kind and not (got.kind in "iu" and expected.kind in "iu"):
            raise InputDataError(
                f"branch has type {got} ({tree[name].typename}); expected {expected}",
                file=path,
                field=name,
            )


class SimulationFiles:
    """Validated access to one ``particles.root`` + ``hits.root`` pair, event by event."""

    def __init__(self, particles_file: str | Path, hits_file: str | Path) -> None:
        self.particles_file = Path(particles_file)
        self.hits_file = Path(hits_file)
        self.particle_tree = _open_tree(self.particles_file, PARTICLE_TREE)
        self.hit_tree = _open_tree(self.hits_file, HIT_TREE)
        _check_branches(
            self.particle_tree, self.particles_file, REQUIRED_PARTICLE_BRANCHES, PARTICLE_BRANCHES
        )
        _check_branches(self.hit_tree, self.hits_file, REQUIRED_HIT_BRANCHES, HIT_BRANCHES)
        particle_events = self.particle_tree["event_id"].array(library="np").astype(np.int64)
        self._particle_entry = {int(e): k for k, e in enumerate(particle_events)}
        hit_events = self.hit_tree["event_id"].array(library="np").astype(np.int64)
        if len(hit_events) and np.any(np.diff(hit_events) < 0):
            raise InputDataError(
                "hits are not grouped by increasing event_id", file=self.hits_file, field="event_id"
            )
        ids, starts, counts = np.unique(hit_events, return_index=True, return_counts=True)
        self._hit_range = {int(e): (int(s), int(s + c)) for e, s, c in zip(ids, starts, counts)}
        self.event_ids = sorted(set(self._particle_entry) | set(self._hit_range))
        self._last_hits: tuple[int, dict[str, npt.NDArray]] | None = None
        hit_present = set(self.hit_tree.keys())
        particle_present = set(self.particle_tree.keys())
        self.hit_branches = [b for b in HIT_BRANCHES if b in hit_present]
        self.particle_branches = [b for b in PARTICLE_BRANCHES if b in particle_present]

    @classmethod
    def from_dir(cls, directory: str | Path) -> SimulationFiles:
        """The pair ``<directory>/particles.root`` and ``<directory>/hits.root``."""
        directory = Path(directory)
        if not directory.is_dir():
            raise InputDataError("input folder does not exist", file=directory)
        return cls(directory / "particles.root", directory / "hits.root")

    def __len__(self) -> int:
        return len(self.event_ids)

    def hits(self, event_id: int) -> dict[str, npt.NDArray]:
        """Hit columns of one event (empty arrays if it has none); NaN positions raise.

        The last event read is kept, so reading it twice in a row costs nothing.
        """
        if self._last_hits is not None and self._last_hits[0] == event_id:
            return self._last_hits[1]
        start, stop = self._hit_range.get(event_id, (0, 0))
        arrays = self.hit_tree.arrays(
            self.hit_branches, entry_start=start, entry_stop=stop, library="np"
        )
        for name in FINITE_HIT_FIELDS:
            bad = ~np.isfinite(arrays[name])
            if np.any(bad):
                raise InputDataError(
                    f"{int(bad.sum())} hit(s) have a non-finite position, first at hit entry "
                    f"{start + int(np.argmax(bad))}",
                    file=self.hits_file,
                    event=event_id,
                    field=name,
                )
        self._last_hits = (event_id, arrays)
        return arrays

    def particles(self, event_id: int) -> dict[str, npt.NDArray]:
        """Particle columns of one event (empty arrays if it has none); NaN kinematics raise."""
        entry = self._particle_entry.get(event_id)
        if entry is None:
            return {b: np.zeros(0, dtype=PARTICLE_BRANCHES[b]) for b in self.particle_branches}
        arrays = self.particle_tree.arrays(
            self.particle_branches, entry_start=entry, entry_stop=entry + 1, library="np"
        )
        out = {name: np.asarray(values[0]) for name, values in arrays.items() if name != "event_id"}
        for name in FINITE_PARTICLE_FIELDS:
            bad = ~np.isfinite(out[name])
            if np.any(bad):
                raise InputDataError(
                    f"{int(bad.sum())} particle(s) have non-finite values",
                    file=self.particles_file,
                    event=event_id,
                    field=name,
                )
        return out


def columns_to_sim_hits(hits: dict[str, npt.NDArray]) -> Any:
    """Hit columns (ROOT schema, mm/GeV) -> ``acts.examples.SimHitContainer``."""
    import acts
    import acts.examples

    u = acts.UnitConstants
    container = acts.examples.SimHitContainer()
    names = (
        "geometry_id",
        "barcode_vertex_primary",
        "barcode_vertex_secondary",
        "barcode_particle",
        "barcode_generation",
        "barcode_sub_particle",
        "tx",
        "ty",
        "tz",
        "tt",
        "tpx",
        "tpy",
        "tpz",
        "te",
        "deltapx",
        "deltapy",
        "deltapz",
        "deltae",
        "index",
    )
    cols = [
        (hits[n] if n in hits else np.zeros(len(hits["geometry_id"]), np.float32)).tolist()
        for n in names
    ]
    vector = acts.Vector4
    hit_type = acts.examples.SimHit
    mm, gev = u.mm, u.GeV
    # Many hits share a particle or a module: build each barcode / geometry id object once.
    barcodes: dict[tuple[int, ...], Any] = {}
    geometry_ids: dict[int, Any] = {}
    for gid, vp, vs, pa, ge, sp, x, y, z, t, px, py, pz, e, dx, dy, dz, de, idx in zip(*cols):
        key = (vp, vs, pa, ge, sp)
        barcode = barcodes.get(key)
        if barcode is None:
            barcode = acts.examples.SimBarcode()
            barcode.vertexPrimary = vp
            barcode.vertexSecondary = vs
            barcode.particle = pa
            barcode.generation = ge
            barcode.subParticle = sp
            barcodes[key] = barcode
        geometry_id = geometry_ids.get(gid)
        if geometry_id is None:
            geometry_id = geometry_ids[gid] = acts.GeometryIdentifier(gid)
        container.insert(
            hit_type(
                geometry_id,
                barcode,
                vector(x * mm, y * mm, z * mm, t * mm),
                vector(px * gev, py * gev, pz * gev, e * gev),
                vector((px + dx) * gev, (py + dy) * gev, (pz + dz) * gev, (e + de) * gev),
                idx,
            )
        )
    return container


def root_particles_to_sim_particles(particles: dict[str, npt.NDArray]) -> Any:
    """Particle columns (ROOT schema) -> ``acts.examples.SimParticleContainer``."""
    import acts
    import acts.examples

    u = acts.UnitConstants
    container = acts.examples.SimParticleContainer()
    n = len(particles["particle_type"])
    p = np.stack([particles["px"], particles["py"], particles["pz"]], axis=1).astype(np.float64)
    p_abs = np.linalg.norm(p, axis=1)
    direction = p / np.where(p_abs > 0, p_abs, 1.0)[:, None]
    zeros = np.zeros(n)
    columns = [
        np.asarray(particles.get(name, zeros)).tolist()
        for name in (
            "vertex_primary",
            "vertex_secondary",
            "particle",
            "generation",
            "sub_particle",
            "particle_type",
            "q",
            "m",
            "vx",
            "vy",
            "vz",
            "vt",
        )
    ]
    has_hits = "number_of_hits" in particles
    hits = np.asarray(particles["number_of_hits"]).tolist() if has_hits else [0] * n
    rows = zip(*columns, direction.tolist(), (p_abs * u.GeV).tolist(), hits)
    for vp, vs, pa, ge, sp, pdg, q, m, vx, vy, vz, vt, d, p_gev, n_hits in rows:
        barcode = acts.examples.SimBarcode()
        barcode.vertexPrimary = vp
        barcode.vertexSecondary = vs
        barcode.particle = pa
        barcode.generation = ge
        barcode.subParticle = sp
        particle = acts.examples.SimParticle(barcode, acts.PdgParticle(pdg), q * u.e, m * u.GeV)
        particle.fourPosition = acts.Vector4(vx * u.mm, vy * u.mm, vz * u.mm, vt * u.mm)
        particle.direction = acts.Vector3(*d)
        particle.absoluteMomentum = p_gev
        if has_hits:
            particle.numberOfHits = n_hits
        container.insert(particle)
    return container


def make_root_reader(
    files: SimulationFiles,
    level: Any,
    output_particles: str = "particles",
    output_sim_hits: str = "simhits",
) -> Any:
    """An ``acts.examples.IReader`` serving ``files`` event by event to a Sequencer."""
    import acts.examples

    from acts_gnn.io.acts_edm import data_handle

    class RootSimulationReader(acts.examples.IReader):
        def __init__(self) -> None:
            super().__init__("ActsGnnRootSimulationReader", level)
            self.particle_handle = data_handle(
                self,
                "write",
                acts.examples.SimParticleContainer,
                "OutputParticles",
                output_particles,
            )
            self.hit_handle = data_handle(
                self, "write", acts.examples.SimHitContainer, "OutputSimHits", output_sim_hits
            )

        def availableEvents(self) -> tuple[int, int]:
            if not files.event_ids:
                return (0, 0)
            return (min(files.event_ids), max(files.event_ids) + 1)

        def read(self, context: Any) -> Any:
            event = context.eventNumber
            self.particle_handle(context, root_particles_to_sim_particles(files.particles(event)))
            self.hit_handle(context, columns_to_sim_hits(files.hits(event)))
            return acts.examples.ProcessCode.SUCCESS

    return RootSimulationReader()
