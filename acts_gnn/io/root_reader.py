"""Read ``particles.root`` / ``hits.root`` in the ACTS schemas (ours, or a full ACTS build's).

:class:`SimulationFiles` is the one validation layer every reader of simulation files goes
through: it opens and checks both files up front (missing file, tree, branch, wrong type or
layout, truncated baskets, run metadata of the two files disagreeing, an event id twice,
event ids that do not overlap: an :class:`~acts_gnn.errors.InputDataError` naming the file,
event and field) and gives per-event numpy columns, each event checked for NaN values and for
hits and particles that do not belong together (:func:`acts_gnn.io.sim_checks.check_event`),
once: :meth:`SimulationFiles.validate` checks events up front reading only the branches the
checks need, and those events are not checked again when read.
:func:`make_root_reader` wraps it as an ``acts.examples.IReader`` that puts
``SimParticleContainer`` / ``SimHitContainer`` on the whiteboard, built from whole columns
(:func:`columns_to_sim_hits`: no Python loop body per hit; one barcode and geometry-id object
per distinct value).
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import uproot

from acts_gnn.errors import InputDataError
from acts_gnn.io.root_writer import METADATA_KEY
from acts_gnn.io.schemas import (
    HIT_BRANCHES,
    HIT_TREE,
    PARTICLE_BRANCHES,
    PARTICLE_TREE,
    REQUIRED_HIT_BRANCHES,
    REQUIRED_PARTICLE_BRANCHES,
    decode_geometry_id,
)
from acts_gnn.io.sim_checks import BARCODE_FIELDS, check_event

#: Hit columns that must be finite in every event.
FINITE_HIT_FIELDS = ("tx", "ty", "tz")
FINITE_PARTICLE_FIELDS = ("vx", "vy", "vz", "px", "py", "pz")

#: The branches :meth:`SimulationFiles.validate` reads: what the finite, module and
#: :func:`~acts_gnn.io.sim_checks.check_event` checks look at (where present), not the rest.
CHECKED_HIT_BRANCHES = (
    "geometry_id",
    *(f"barcode_{c}" for c in BARCODE_FIELDS),
    *FINITE_HIT_FIELDS,
    "tpx",
    "tpy",
    "tpz",
)
CHECKED_PARTICLE_BRANCHES = (*BARCODE_FIELDS, *FINITE_PARTICLE_FIELDS, "number_of_hits")

#: The key of the per-event column :meth:`SimulationFiles.hits` adds: each row's entry number
#: in the hits tree (for messages; the rows themselves come in ACTS's container order).
ENTRY_COLUMN = "entry"


def _open_tree(path: Path, tree_name: str) -> tuple[Any, Any]:
    if not path.is_file():
        raise InputDataError("file does not exist", file=path)
    try:
        # no array cache: every event's branches are read once (uproot's default 100 MB
        # cache only grew the peak memory of a long run: docs/results.md, "Peak memory")
        handle = uproot.open(path, array_cache=None)
    except Exception as err:  # uproot raises several types for non-ROOT input
        raise InputDataError(f"not a readable ROOT file: {err}", file=path) from err
    if tree_name not in handle:
        raise InputDataError(
            f"no tree {tree_name!r}; the file holds {sorted(k.split(';')[0] for k in handle)}",
            file=path,
            field=tree_name,
        )
    try:
        return handle, handle[tree_name]
    except Exception as err:  # a key whose object cannot be read: truncated or corrupted
        raise InputDataError(
            f"tree {tree_name!r} cannot be read (truncated or corrupted file?): "
            f"{type(err).__name__}: {err}",
            file=path,
            field=tree_name,
        ) from err


def _read_arrays(
    tree: Any,
    path: Path,
    branches: list[str],
    event: int | None = None,
    **kwargs: Any,
) -> dict[str, npt.NDArray]:
    """``tree.arrays(branches, library="np", **kwargs)``; an unreadable basket (truncated or
    corrupted file: uproot's OSError, zlib / deserialization errors) raises InputDataError."""
    try:
        return dict(tree.arrays(branches, library="np", **kwargs))
    except Exception as err:
        raise InputDataError(
            f"cannot read branches of tree {tree.name!r} (truncated or corrupted file?): "
            f"{type(err).__name__}: {' '.join(str(err).split())}",
            file=path,
            event=event,
            field=branches[0] if len(branches) == 1 else None,
        ) from err


def _check_branches(
    tree: Any,
    path: Path,
    required: tuple[str, ...],
    schema: dict[str, np.dtype],
    jagged: frozenset[str],
) -> None:
    """Required branches present, of the schema's kind of type, and one value per entry
    (flat) or a list per entry (``jagged``) as the schema has them."""
    present = set(tree.keys())
    for name in required:
        if name not in present:
            raise InputDataError(f"missing branch of tree {tree.name!r}", file=path, field=name)
        expected = schema[name]
        interpretation = tree[name].interpretation
        is_jagged = hasattr(interpretation, "content")
        try:
            got = np.dtype(
                interpretation.content.to_dtype if is_jagged else interpretation.to_dtype
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
        if is_jagged != (name in jagged):
            layout = "a list per entry" if is_jagged else "one value per entry"
            expected_layout = (
                "a list per entry (one entry per event)"
                if name in jagged
                else "one value per entry"
                + (" (one entry per hit)" if tree.name == HIT_TREE else "")
            )
            raise InputDataError(
                f"branch holds {layout} ({tree[name].typename}); the {tree.name!r} tree of "
                f"the ACTS schema has {expected_layout}",
                file=path,
                field=name,
            )


def _metadata(handle: Any, path: Path) -> dict[str, Any] | None:
    """The run metadata our writer stores in each file (None if absent or unreadable)."""
    if METADATA_KEY not in handle:
        return None
    try:
        value = json.loads(str(handle[METADATA_KEY]))
    except Exception:  # not ours, or not JSON: nothing to compare
        return None
    return value if isinstance(value, dict) else None


class SimulationFiles:
    """Validated access to one ``particles.root`` + ``hits.root`` pair, event by event.

    Checked when opening (each an :class:`~acts_gnn.errors.InputDataError` naming file and
    field): trees and branches of the ACTS schemas, types, one entry per hit / per event, the
    run metadata of both files (where our writer recorded it) equal, no event id twice in
    ``particles.root``, hits grouped by event, and the event ids of the two files overlapping.
    Checked per event by :meth:`event`: finite positions and kinematics, and hits and
    particles that belong together (barcodes present, momentum and hit counts consistent).

    ``event_ids`` are the events present (sorted, any gaps); the ``k``-th is event number ``k``
    of a Sequencer reading through :func:`make_root_reader`, so running over the events costs
    per event present, never per id range.
    """

    def __init__(self, particles_file: str | Path, hits_file: str | Path) -> None:
        self.particles_file = Path(particles_file)
        self.hits_file = Path(hits_file)
        particle_handle, self.particle_tree = _open_tree(self.particles_file, PARTICLE_TREE)
        hit_handle, self.hit_tree = _open_tree(self.hits_file, HIT_TREE)
        _check_branches(
            self.particle_tree,
            self.particles_file,
            REQUIRED_PARTICLE_BRANCHES,
            PARTICLE_BRANCHES,
            frozenset(PARTICLE_BRANCHES) - {"event_id"},
        )
        _check_branches(
            self.hit_tree, self.hits_file, REQUIRED_HIT_BRANCHES, HIT_BRANCHES, frozenset()
        )
        self.metadata = self._check_metadata(particle_handle, hit_handle)
        particle_events = _read_arrays(self.particle_tree, self.particles_file, ["event_id"])[
            "event_id"
        ].astype(np.int64)
        ids, counts = np.unique(particle_events, return_counts=True)
        if np.any(counts > 1):
            twice = ids[counts > 1]
            raise InputDataError(
                f"{len(twice)} event id(s) have more than one entry (two runs concatenated?), "
                f"first: event {int(twice[0])} at entries "
                f"{np.flatnonzero(particle_events == twice[0]).tolist()[:4]}",
                file=self.particles_file,
                event=int(twice[0]),
                field="event_id",
            )
        self._particle_entry = {int(e): k for k, e in enumerate(particle_events)}
        hit_events = _read_arrays(self.hit_tree, self.hits_file, ["event_id"])["event_id"]
        hit_events = hit_events.astype(np.int64)
        if len(hit_events) and np.any(np.diff(hit_events) < 0):
            raise InputDataError(
                "hits are not grouped by increasing event_id", file=self.hits_file, field="event_id"
            )
        ids, starts, counts = np.unique(hit_events, return_index=True, return_counts=True)
        self._hit_range = {int(e): (int(s), int(s + c)) for e, s, c in zip(ids, starts, counts)}
        if (
            self._hit_range
            and self._particle_entry
            and not (self._hit_range.keys() & self._particle_entry.keys())
        ):
            raise InputDataError(
                f"no event of hits.root (ids {_id_range(self._hit_range)}) has an entry in "
                f"particles.root (ids {_id_range(self._particle_entry)}): the files do not "
                "belong together",
                file=self.particles_file,
                field="event_id",
            )
        self.event_ids = sorted(set(self._particle_entry) | set(self._hit_range))
        self._last_hits: tuple[int, dict[str, npt.NDArray]] | None = None
        self._validated: set[int] = set()
        hit_present = set(self.hit_tree.keys())
        particle_present = set(self.particle_tree.keys())
        self.hit_branches = [b for b in HIT_BRANCHES if b in hit_present]
        self.particle_branches = [b for b in PARTICLE_BRANCHES if b in particle_present]

    def _check_metadata(self, particle_handle: Any, hit_handle: Any) -> dict[str, Any] | None:
        """Both files' run metadata (seed, generator, detector), which must agree."""
        particles = _metadata(particle_handle, self.particles_file)
        hits = _metadata(hit_handle, self.hits_file)
        if particles is not None and hits is not None and particles != hits:
            keys = sorted(
                k for k in particles.keys() | hits.keys() if particles.get(k) != hits.get(k)
            )
            diffs = ", ".join(f"{k}: {particles.get(k)!r} vs {hits.get(k)!r}" for k in keys[:3])
            raise InputDataError(
                f"particles.root and hits.root come from different runs ({diffs}; "
                f"{self.hits_file} has the second values)",
                file=self.particles_file,
                field=f"{METADATA_KEY}.{keys[0]}",
            )
        return particles if particles is not None else hits

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

        Rows come in the order ACTS keeps a ``SimHitContainer`` in (by geometry id, then time,
        then entry), so row ``k`` is sim-hit index ``k`` of ACTS's measurement -> sim-hit map
        whatever order the file has; :data:`ENTRY_COLUMN` holds each row's entry number in the
        hits tree. The last event read is kept, so reading it twice in a row costs nothing.
        """
        if self._last_hits is not None and self._last_hits[0] == event_id:
            return self._last_hits[1]
        arrays, entry = self._read_hits(event_id, self.hit_branches)
        time = arrays["tt"] if "tt" in arrays else np.zeros(len(entry), np.float32)
        gid = arrays["geometry_id"]
        step = gid[1:] != gid[:-1]
        if not (np.all(gid[1:] >= gid[:-1]) and np.all(step | (time[1:] >= time[:-1]))):
            # not yet in container order (our writer's files are: nothing to reorder)
            order = np.lexsort((entry, time, gid))
            arrays = {name: values[order] for name, values in arrays.items()}
            entry = entry[order]
        arrays[ENTRY_COLUMN] = entry
        self._last_hits = (event_id, arrays)
        return arrays

    def _read_hits(
        self, event_id: int, branches: list[str]
    ) -> tuple[dict[str, npt.NDArray], npt.NDArray[np.int64]]:
        """``branches`` of one event's hits in file order, positions checked finite, and
        each row's entry number in the hits tree."""
        start, stop = self._hit_range.get(event_id, (0, 0))
        arrays = _read_arrays(
            self.hit_tree,
            self.hits_file,
            branches,
            event=event_id,
            entry_start=start,
            entry_stop=stop,
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
        return arrays, np.arange(start, stop, dtype=np.int64)

    def particles(self, event_id: int) -> dict[str, npt.NDArray]:
        """Particle columns of one event (empty arrays if it has none); NaN kinematics raise."""
        return self._read_particles(event_id, self.particle_branches)

    def _read_particles(self, event_id: int, branches: list[str]) -> dict[str, npt.NDArray]:
        entry = self._particle_entry.get(event_id)
        if entry is None:
            return {b: np.zeros(0, dtype=PARTICLE_BRANCHES[b]) for b in branches}
        arrays = _read_arrays(
            self.particle_tree,
            self.particles_file,
            branches,
            event=event_id,
            entry_start=entry,
            entry_stop=entry + 1,
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

    def check_modules(self, module_ids: npt.NDArray[np.uint64], events: list[int]) -> None:
        """Refuse hits of ``events`` on a module (geometry id with a sensitive number) that is
        not in ``module_ids`` (the detector's sensitive surfaces): hits.root made with
        another geometry. Hits on passive surfaces (sensitive number 0) pass; ACTS
        digitization drops them, and :func:`acts_gnn.simulation.prepare.prepare` counts them.
        """
        known = np.sort(np.asarray(module_ids, dtype=np.uint64))
        for event_id in events:
            hits = self.hits(event_id)  # cached: checking then reading costs one read
            self._check_modules(known, event_id, hits["geometry_id"], hits[ENTRY_COLUMN])

    def _check_modules(
        self,
        known: npt.NDArray[np.uint64],
        event_id: int,
        geometry_id: npt.NDArray,
        entry: npt.NDArray[np.int64],
    ) -> None:
        """:meth:`check_modules` of one event's geometry ids, ``known`` sorted; each distinct
        module is looked up once (an event has ~10 hits per module)."""
        gid = np.asarray(geometry_id).astype(np.uint64)
        if len(gid) == 0:
            return
        modules, inverse = np.unique(gid, return_inverse=True)
        pos = np.minimum(np.searchsorted(known, modules), len(known) - 1)
        unknown = (known[pos] != modules) & (decode_geometry_id(modules, "sensitive") > 0)
        if not np.any(unknown):
            return
        bad = unknown[inverse.reshape(-1)]
        k = int(np.argmax(bad))
        fields = "|".join(
            f"{name}={int(decode_geometry_id(gid[k : k + 1], name)[0])}"
            for name in ("volume", "layer", "sensitive")
        )
        raise InputDataError(
            f"{int(bad.sum())} hit(s) on modules this detector does not have (hits.root "
            f"of another geometry?), first at hit entry {int(entry[k])}: "
            f"geometry id {int(gid[k])} ({fields})",
            file=self.hits_file,
            event=event_id,
            field="geometry_id",
        )

    def validate(self, events: list[int], module_ids: npt.NDArray[np.uint64] | None = None) -> None:
        """Check ``events`` as :meth:`event` does (and their modules against ``module_ids``,
        :meth:`check_modules`) before any work, so bad input fails at once and outside a
        Sequencer: each an :class:`~acts_gnn.errors.InputDataError` naming file, event and
        field. Reads only the branches the checks look at (:data:`CHECKED_HIT_BRANCHES`,
        :data:`CHECKED_PARTICLE_BRANCHES`), in file order, and caches nothing; a validated
        event is not checked again by :meth:`event` (:meth:`is_validated`)."""
        hit_branches = [b for b in self.hit_branches if b in CHECKED_HIT_BRANCHES]
        particle_branches = [b for b in self.particle_branches if b in CHECKED_PARTICLE_BRANCHES]
        known = None if module_ids is None else np.sort(np.asarray(module_ids, dtype=np.uint64))
        for event_id in events:
            hits, entry = self._read_hits(event_id, hit_branches)
            particles = self._read_particles(event_id, particle_branches)
            if self.has_particles(event_id):
                check_event(event_id, particles, hits, self.particles_file)
            if known is not None:
                self._check_modules(known, event_id, hits["geometry_id"], entry)
            self._validated.add(event_id)

    def is_validated(self, event_id: int) -> bool:
        """Whether :meth:`validate` has checked the event (its hits and particles agree)."""
        return event_id in self._validated

    def has_particles(self, event_id: int) -> bool:
        """Whether ``particles.root`` has an entry for the event."""
        return event_id in self._particle_entry

    def event(self, event_id: int) -> tuple[dict[str, npt.NDArray], dict[str, npt.NDArray]]:
        """(particles, hits) of one event, checked to belong together (:func:`~acts_gnn.io.sim_checks.check_event`;
        once: not again for an event :meth:`validate` has checked)."""
        particles = self.particles(event_id)
        hits = self.hits(event_id)
        if self.has_particles(event_id) and not self.is_validated(event_id):
            check_event(event_id, particles, hits, self.particles_file)
        return particles, hits


def _id_range(ids: dict[int, Any]) -> str:
    keys = sorted(ids)
    return f"{keys[0]}..{keys[-1]}" if len(keys) > 1 else str(keys[0])


def sim_barcodes(columns: list[npt.NDArray]) -> list[Any]:
    """One ``acts.examples.SimBarcode`` per row of the five barcode component columns (the
    order of :data:`~acts_gnn.io.sim_checks.BARCODE_FIELDS`); rows with equal components
    share one object (the hits of one particle), so each distinct barcode is built once."""
    import acts.examples

    n = len(columns[0])
    if n == 0:
        return []
    order = np.lexsort(columns[::-1])
    ordered = [np.asarray(c)[order] for c in columns]
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for c in ordered:
        new[1:] |= c[1:] != c[:-1]
    group = np.empty(n, dtype=np.int64)
    group[order] = np.cumsum(new) - 1
    objects = []
    for vp, vs, pa, ge, sp in zip(*(c[new].tolist() for c in ordered)):
        barcode = acts.examples.SimBarcode()
        barcode.vertexPrimary = vp
        barcode.vertexSecondary = vs
        barcode.particle = pa
        barcode.generation = ge
        barcode.subParticle = sp
        objects.append(barcode)
    return list(map(objects.__getitem__, group.tolist()))


def columns_to_sim_hits(hits: dict[str, npt.NDArray]) -> Any:
    """Hit columns (ROOT schema, mm/GeV) -> ``acts.examples.SimHitContainer``, in row order.

    The arithmetic (units, momentum after = before + delta, in float64) is done on whole
    columns; what is left per hit is building its ACTS objects (three ``Vector4`` and the
    ``SimHit``, ~2 us a hit), through ``map`` rather than a Python loop body. Barcodes and
    geometry ids are built once per distinct value.
    """
    import acts
    import acts.examples

    u = acts.UnitConstants
    n = len(hits["geometry_id"])
    zeros = np.zeros(n, np.float64)

    def column(name: str, unit: float = 1.0, delta: str | None = None) -> list[float]:
        values = np.asarray(hits[name], np.float64) if name in hits else zeros
        if delta is not None and delta in hits:
            values = values + np.asarray(hits[delta], np.float64)
        return (values * unit).tolist()

    position = [column(c, u.mm) for c in ("tx", "ty", "tz", "tt")]
    before = [column(c, u.GeV) for c in ("tpx", "tpy", "tpz", "te")]
    after = [column(c, u.GeV, "delta" + c[1:]) for c in ("tpx", "tpy", "tpz", "te")]
    barcodes = sim_barcodes([hits[f"barcode_{c}"] for c in BARCODE_FIELDS])
    modules, inverse = np.unique(np.asarray(hits["geometry_id"]), return_inverse=True)
    module_objects = list(map(acts.GeometryIdentifier, modules.tolist()))
    geometry_ids = list(map(module_objects.__getitem__, inverse.reshape(-1).tolist()))
    index = np.asarray(hits["index"]).tolist() if "index" in hits else [0] * n
    vector = acts.Vector4
    sim_hits = map(
        acts.examples.SimHit,
        geometry_ids,
        barcodes,
        map(vector, *position),
        map(vector, *before),
        map(vector, *after),
        index,
    )
    container = acts.examples.SimHitContainer()
    deque(map(container.insert, sim_hits), maxlen=0)  # insert each, keep nothing
    return container


def root_particles_to_sim_particles(particles: dict[str, npt.NDArray]) -> Any:
    """Particle columns (ROOT schema) -> ``acts.examples.SimParticleContainer``."""
    import acts
    import acts.examples

    u = acts.UnitConstants
    container = acts.examples.SimParticleContainer()
    n = len(particles["particle_type"])
    if n == 0:
        return container
    p = np.stack([particles["px"], particles["py"], particles["pz"]], axis=1).astype(np.float64)
    p_abs = np.linalg.norm(p, axis=1)
    direction = (p / np.where(p_abs > 0, p_abs, 1.0)[:, None]).T
    zeros = np.zeros(n)

    def column(name: str, unit: float = 1.0) -> list[float]:
        return (np.asarray(particles.get(name, zeros), np.float64) * unit).tolist()

    pdg_types: dict[int, Any] = {}
    pdg = [
        pdg_types[k] if k in pdg_types else pdg_types.setdefault(k, acts.PdgParticle(k))
        for k in np.asarray(particles["particle_type"]).tolist()
    ]
    barcodes = sim_barcodes([particles[c] for c in BARCODE_FIELDS])
    created = map(acts.examples.SimParticle, barcodes, pdg, column("q", u.e), column("m", u.GeV))
    positions = map(acts.Vector4, *(column(c, u.mm) for c in ("vx", "vy", "vz", "vt")))
    directions = map(acts.Vector3, *direction.tolist())
    momenta = (p_abs * u.GeV).tolist()
    has_hits = "number_of_hits" in particles
    hits = np.asarray(particles["number_of_hits"]).tolist() if has_hits else [0] * n
    for particle, position, d, p_gev, n_hits in zip(created, positions, directions, momenta, hits):
        particle.fourPosition = position
        particle.direction = d
        particle.absoluteMomentum = p_gev
        if has_hits:
            particle.numberOfHits = n_hits
        container.insert(particle)
    return container


def make_root_reader(
    files: SimulationFiles,
    level: Any,
    output_particles: str | None = "particles",
    output_sim_hits: str = "simhits",
) -> Any:
    """An ``acts.examples.IReader`` serving ``files`` event by event to a Sequencer.

    Sequencer event number ``k`` is event ``files.event_ids[k]`` (so ``skip`` and ``events``
    of the Sequencer count events present); each event is checked by
    :meth:`SimulationFiles.event` (once: not again after :meth:`SimulationFiles.validate`).
    ``output_particles`` None: no ``SimParticleContainer`` (for a Sequencer whose algorithms
    read only the sim hits, as digitization does; an event :meth:`SimulationFiles.validate`
    has checked is then read without its particles). ACTS derives per-event random streams
    (digitization smearing) from the event number, i.e. from an event's position in the files.
    """
    import acts.examples

    from acts_gnn.io.acts_edm import data_handle

    class RootSimulationReader(acts.examples.IReader):
        def __init__(self) -> None:
            super().__init__("ActsGnnRootSimulationReader", level)
            self.particle_handle = (
                None
                if output_particles is None
                else data_handle(
                    self,
                    "write",
                    acts.examples.SimParticleContainer,
                    "OutputParticles",
                    output_particles,
                )
            )
            self.hit_handle = data_handle(
                self, "write", acts.examples.SimHitContainer, "OutputSimHits", output_sim_hits
            )

        def availableEvents(self) -> tuple[int, int]:
            # event number k is the k-th event present: ids may have gaps of any size
            return (0, len(files.event_ids))

        def read(self, context: Any) -> Any:
            event_id = files.event_ids[context.eventNumber]
            if self.particle_handle is None and files.is_validated(event_id):
                hits = files.hits(event_id)
            else:
                particles, hits = files.event(event_id)
                if self.particle_handle is not None:
                    self.particle_handle(context, root_particles_to_sim_particles(particles))
            self.hit_handle(context, columns_to_sim_hits(hits))
            return acts.examples.ProcessCode.SUCCESS

    return RootSimulationReader()
