"""HepMC3 events in and out: ``simulate --hepmc FILE...`` and ``simulate --write-hepmc DIR``.

Input goes through ACTS itself (``acts.examples.hepmc3``, in the pyacts wheel):
``HepMC3Reader`` reads the files (ASCII HepMC3, optionally compressed: ``.gz``, ``.xz``,
``.bz2``, ``.zst``), shifts each read event to a vertex from the beam spot and, for pile-up
mixing from a second file, adds ``Poisson(MU)`` events of that file to each event;
``HepMC3InputConverter`` turns the merged record into ACTS particles (final-state particles,
one primary vertex per read event, displaced vertices as secondary vertices of the barcode).
The generator-level selection of :mod:`acts_gnn.simulation.pythia8` is then applied, and
pile-up from Pythia8 is added (``--pileup-from pythia8``), before Fatras.

Files are checked before ACTS opens them (:func:`check_hepmc3_file`): a missing file, a file
that is not ASCII HepMC3 or one cut short (no end-of-listing line, a truncated last event)
is an :class:`~acts_gnn.errors.InputDataError` naming the file, the event and what is wrong,
never an ACTS crash or a silently shorter sample.

Output (:class:`HepMC3EventWriter`) writes, per event, an ASCII HepMC3 record that ACTS's
reader reads back: for every interaction the two beam protons (status 4) entering its primary
vertex at the interaction point, its final-state particles (status 1) leaving that vertex or a
displaced decay vertex, and, for each displaced vertex, the decaying particle (status 2, from
Pythia) leaving the primary vertex and entering the decay vertex. Partons and short-lived
resonances are not kept: the record is what Fatras is given, before the generator-level
selection. Momenta in GeV, positions and times in mm.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from acts_gnn.errors import InputDataError
from acts_gnn.io.atomic import atomic_path
from acts_gnn.simulation.pythia8 import (
    PARENT_COLUMNS,
    BeamSpot,
    ParticleSelection,
    Pythia8Config,
    Pythia8Generator,
    concatenate_tables,
)

START = "HepMC::Asciiv3-START_EVENT_LISTING"
END = "HepMC::Asciiv3-END_EVENT_LISTING"
VERSION_LINE = "HepMC::Version 3.02.06"
_OPENERS: dict[str, Any] = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}
PROTON_MASS = 0.938272
#: Name of the file ``--write-hepmc DIR`` writes.
HEPMC_FILE = "events.hepmc3"


@dataclass(frozen=True)
class HepMC3Input:
    """Where ``simulate`` reads its events from: HepMC3 files and the pile-up to mix in.

    ``pileup_file``: a HepMC3 file whose events are mixed in, ``Poisson(pileup)`` per event;
    ``pileup_from_pythia8``: instead, ``Poisson(pileup)`` Pythia8 ``SoftQCD:all`` collisions.
    """

    files: tuple[Path, ...]
    pileup: float = 0.0
    pileup_file: Path | None = None
    pileup_from_pythia8: bool = False
    #: shift each read event (and each pile-up event) to a beam-spot vertex; off for files
    #: whose events are already at their vertices (``--write-hepmc`` output)
    smear_vertices: bool = True
    beam_spot: BeamSpot = field(default_factory=BeamSpot)
    selection: ParticleSelection | None = field(default_factory=ParticleSelection)
    cms_energy: float = 14000.0  # GeV, of the Pythia8 pile-up

    def __post_init__(self) -> None:
        if not self.files:
            raise ValueError("no HepMC3 file given")
        if self.pileup_file is not None and self.pileup_from_pythia8:
            raise ValueError("pile-up from a HepMC3 file or from Pythia8, not both")
        if self.pileup < 0:
            raise ValueError(f"pileup must be >= 0, got {self.pileup}")

    def to_dict(self) -> dict[str, object]:
        return {
            "generator": "hepmc3",
            "files": [str(f) for f in self.files],
            "pileup": self.pileup,
            "pileup_file": str(self.pileup_file) if self.pileup_file else None,
            "pileup_from_pythia8": self.pileup_from_pythia8,
            "smear_vertices": self.smear_vertices,
            "beam_spot": asdict(self.beam_spot),
            "selection": asdict(self.selection) if self.selection else None,
            "cms_energy": self.cms_energy,
        }


def _open_text(path: Path) -> IO[str]:
    opener = _OPENERS.get(path.suffix)
    if path.suffix == ".zst":
        raise InputDataError(
            f"{path}: zstd-compressed HepMC3 is read by ACTS but cannot be checked here; "
            "decompress it (zstd -d) first"
        )
    if opener is None:
        return open(path, encoding="utf-8", errors="replace")
    return opener(path, "rt", encoding="utf-8", errors="replace")  # type: ignore[no-any-return]


def check_hepmc3_file(path: str | Path) -> int:
    """Check that ``path`` is a complete ASCII HepMC3 file; return its number of events.

    Raises :class:`InputDataError` (naming file, event and what is wrong) for a missing or
    empty file, another format (HepMC2, LHE, ROOT, ...), an event whose ``E`` line announces
    more vertices or particles than it holds, or a file without its end-of-listing line.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path}: HepMC3 file not found")
    events = 0
    counts = [0, 0]
    announced: tuple[int, int, int] | None = None
    seen_start = False

    def close_event(line_no: int) -> None:
        if announced is not None and (counts[0], counts[1]) != announced[1:]:
            raise InputDataError(
                f"{path}: event {announced[0]} (line {line_no}) is truncated: its E line "
                f"announces {announced[1]} vertices and {announced[2]} particles, the file "
                f"holds {counts[0]} and {counts[1]}"
            )

    try:
        with _open_text(path) as f:
            line_no = 0
            for line_no, line in enumerate(f, start=1):
                tag = line[:2]
                if not seen_start:
                    if line.startswith(START):
                        seen_start = True
                    elif "IO_GenEvent" in line:
                        raise InputDataError(
                            f"{path}: HepMC2 (IO_GenEvent) format, line {line_no}; ACTS reads "
                            "ASCII HepMC3 (convert with HepMC3's convert_example or rerun the "
                            "generator with a HepMC3 writer)"
                        )
                    elif line.strip() and not line.startswith("HepMC::"):
                        raise InputDataError(
                            f"{path}: not an ASCII HepMC3 file (line {line_no} comes before "
                            f"the '{START}' line: {line.strip()[:60]!r})"
                        )
                    continue
                if tag == "E ":
                    close_event(line_no)
                    fields = line.split()
                    try:
                        announced = (int(fields[1]), int(fields[2]), int(fields[3]))
                    except (IndexError, ValueError):
                        raise InputDataError(
                            f"{path}: line {line_no}: malformed event line {line.strip()!r}"
                        ) from None
                    counts = [0, 0]
                    events += 1
                elif tag == "V ":
                    counts[0] += 1
                elif tag == "P ":
                    counts[1] += 1
                elif line.startswith(END):
                    close_event(line_no)
                    announced = None
                    seen_start = False
    except (OSError, EOFError, lzma.LZMAError, UnicodeDecodeError) as err:
        raise InputDataError(f"{path}: cannot be read as (compressed) text: {err}") from err
    if events == 0 and not seen_start:
        raise InputDataError(f"{path}: no HepMC3 events (no '{START}' line)")
    if seen_start:
        last = f"event {announced[0]}" if announced else "the last event"
        raise InputDataError(
            f"{path}: truncated after {last}: the '{END}' line is missing (file cut short?)"
        )
    if events == 0:
        raise InputDataError(f"{path}: holds no events")
    return events


class HepMC3EventWriter:
    """Writes one ASCII HepMC3 file of generated events (see the module docstring).

    ``write(event_number, table)``: ``table`` holds particle columns (``vx`` ... ``pz``,
    ``pdg``, ``m``, ``vertex_primary``, optional ``vertex_secondary`` and ``parent_*``) of all
    interactions of the event. The file appears, complete, at ``close()``.
    """

    def __init__(self, path: str | Path, beam_energy: float = 7000.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._context = atomic_path(self.path)
        self._tmp = self._context.__enter__()
        self._file = open(self._tmp, "w", encoding="utf-8")  # noqa: SIM115 (open until close())
        self._file.write(f"{VERSION_LINE}\n{START}\n")
        self._beam = beam_energy
        self.events = 0

    def write(self, event_number: int, table: dict[str, npt.NDArray]) -> None:
        lines: list[str] = []
        vertices = 0
        particles = 0
        n = len(table["pdg"])
        secondary = table.get("vertex_secondary", np.zeros(n, dtype=np.uint32))
        beam_pz = np.sqrt(self._beam**2 - PROTON_MASS**2)
        for primary in np.unique(table["vertex_primary"]).tolist():
            rows = np.flatnonzero(table["vertex_primary"] == primary)
            first = rows[0]
            at_pv = rows[secondary[rows] == 0]
            pv_pos = (
                (table[c][at_pv[0]] for c in ("vx", "vy", "vz", "vt"))
                if len(at_pv)
                else (table[c][first] for c in ("vx", "vy", "vz", "vt"))
            )
            beams = []
            for sign in (1, -1):
                particles += 1
                beams.append(particles)
                lines.append(_p_line(particles, 0, 2212, (0.0, 0.0, sign * beam_pz, self._beam), 4))
            vertices += 1
            pv = -vertices
            lines.append(f"V {pv} 0 [{beams[0]},{beams[1]}] @ {_fmt(pv_pos)}")
            for k in at_pv.tolist():
                particles += 1
                lines.append(_p_line(particles, pv, table["pdg"][k], _p4(table, k), 1))
            for sv in np.unique(secondary[rows]).tolist():
                if sv == 0:
                    continue
                at_sv = rows[secondary[rows] == sv]
                k0 = at_sv[0]
                particles += 1
                mother = particles
                if "parent_pdg" in table and table["parent_pdg"][k0] != 0:
                    pdg = int(table["parent_pdg"][k0])
                    p4 = tuple(float(table[f"parent_{c}"][k0]) for c in ("px", "py", "pz", "e"))
                else:  # no record of the decaying particle: a pseudo-particle with the sum
                    pdg = 0
                    p4 = tuple(np.sum([_p4(table, k) for k in at_sv.tolist()], axis=0))
                lines.append(_p_line(mother, pv, pdg, p4, 2))
                vertices += 1
                pos = (table[c][k0] for c in ("vx", "vy", "vz", "vt"))
                lines.append(f"V {-vertices} 0 [{mother}] @ {_fmt(pos)}")
                for k in at_sv.tolist():
                    particles += 1
                    lines.append(_p_line(particles, -vertices, table["pdg"][k], _p4(table, k), 1))
        self._file.write(f"E {event_number} {vertices} {particles}\nU GEV MM\n")
        self._file.write("\n".join(lines) + "\n")
        self.events += 1

    def close(self) -> None:
        self._file.write(f"{END}\n")
        self._file.close()
        self._context.__exit__(None, None, None)

    def abort(self) -> None:
        self._file.close()
        self._context.__exit__(RuntimeError, RuntimeError("aborted"), None)


def _fmt(values: Iterable[float]) -> str:
    return " ".join(f"{float(v):.10e}" for v in values)


def _p4(table: dict[str, npt.NDArray], k: int) -> tuple[float, float, float, float]:
    px, py, pz, m = (float(table[c][k]) for c in ("px", "py", "pz", "m"))
    return px, py, pz, float(np.sqrt(px * px + py * py + pz * pz + m * m))


def _p_line(number: int, parent: int, pdg: int, p4: tuple[float, ...], status: int) -> str:
    px, py, pz, e = p4
    m2 = e * e - px * px - py * py - pz * pz
    m = float(np.sqrt(m2)) if m2 > 0 else 0.0
    return f"P {number} {parent} {int(pdg)} {_fmt((px, py, pz, e, m))} {status}"


def _concatenate(files: tuple[Path, ...], directory: Path) -> Path:
    """One HepMC3 file holding the events of ``files`` in order (ACTS's ``normalizeFiles``)."""
    if len(files) == 1:
        return files[0]
    import acts.examples.hepmc3 as hepmc3

    target = directory / "hepmc3-input.hepmc3"
    hepmc3.normalizeFiles([str(f) for f in files], singleOutputPath=str(target))
    return target


def check_hepmc3_input(source: HepMC3Input, events: int) -> None:
    """Check every file of ``source`` (:func:`check_hepmc3_file`) and that they hold enough
    events: ``events`` in the files, and (pile-up file) ``events * MU`` plus five standard
    deviations, since the reader does not reuse pile-up events."""
    available = sum(check_hepmc3_file(f) for f in source.files)
    if available < events:
        raise InputDataError(
            f"{', '.join(map(str, source.files))}: {available} events, {events} requested"
        )
    if source.pileup_file is not None and source.pileup > 0:
        n_pileup = check_hepmc3_file(source.pileup_file)
        mean = events * source.pileup
        needed = int(np.ceil(mean + 5 * np.sqrt(mean)))
        if n_pileup < needed:
            raise InputDataError(
                f"{source.pileup_file}: {n_pileup} pile-up events, but {events} events at MU = "
                f"{source.pileup} need up to {needed} (the file is not reused)"
            )


def add_hepmc3_reader(
    sequencer: Any,
    source: HepMC3Input,
    events: int,
    random_numbers: Any,
    work_dir: Path,
    level: Any,
) -> str:
    """Add HepMC3Reader + HepMC3InputConverter to ``sequencer``; return the whiteboard name
    of the particles. Check the files first with :func:`check_hepmc3_input`."""
    import acts
    import acts.examples
    import acts.examples.hepmc3 as hepmc3

    inputs = [hepmc3.HepMC3Reader.Input.Fixed(str(_concatenate(source.files, work_dir)), 1)]
    if source.pileup_file is not None and source.pileup > 0:
        inputs.append(hepmc3.HepMC3Reader.Input.Poisson(str(source.pileup_file), source.pileup))
    u = acts.UnitConstants
    config = hepmc3.HepMC3Reader.Config()
    config.inputs = inputs
    config.outputEvent = "hepmc3_event"
    config.randomNumbers = random_numbers
    config.checkEventNumber = False
    config.numEvents = events
    beam_spot = source.beam_spot
    if source.smear_vertices:
        config.vertexGenerator = acts.examples.GaussianVertexGenerator(
            stddev=acts.Vector4(
                beam_spot.sigma_x * u.mm,
                beam_spot.sigma_y * u.mm,
                beam_spot.sigma_z * u.mm,
                beam_spot.sigma_t_ns * u.ns,
            ),
            mean=acts.Vector4(0, 0, 0, 0),
        )
    sequencer.addReader(hepmc3.HepMC3Reader(config, level))
    converter = hepmc3.HepMC3InputConverter.Config()
    converter.inputEvent = "hepmc3_event"
    converter.outputParticles = "particles_hepmc3"
    converter.outputVertices = "vertices_hepmc3"
    sequencer.addAlgorithm(hepmc3.HepMC3InputConverter(converter, level))
    return "particles_hepmc3"


def generator_columns(particles: dict[str, npt.NDArray]) -> dict[str, npt.NDArray]:
    """ROOT-schema particle columns (``io.acts_edm.particles_to_columns``) -> generator
    columns (``simulation.generator.PARTICLE_COLUMNS`` + ``vertex_secondary``)."""
    out = {c: particles[c] for c in ("q", "m", "vx", "vy", "vz", "vt", "px", "py", "pz")}
    out["pdg"] = particles["particle_type"]
    for c in ("vertex_primary", "vertex_secondary", "particle"):
        out[c] = particles[c]
    return out


class HepMC3Source:
    """Events read by :func:`add_hepmc3_reader`, with Pythia8 pile-up mixed in when asked,
    then the generator-level selection (the ``event`` interface of the simulation)."""

    input_name = "particles_hepmc3"

    def __init__(self, source: HepMC3Input, seed: int) -> None:
        self.source = source
        self.seed = seed
        self.pileup: Pythia8Generator | None = None
        if source.pileup_from_pythia8 and source.pileup > 0:
            self.pileup = Pythia8Generator(
                Pythia8Config(
                    pileup=source.pileup,
                    hard_process=(),
                    cms_energy=source.cms_energy,
                    beam_spot=source.beam_spot,
                    selection=None,
                )
            )

    def event_info(self, number: int) -> dict[str, int]:
        """What ``event`` will log of event ``number`` (Pythia8 pile-up seeds), in advance."""
        from acts_gnn.simulation.fatras import event_rng

        if self.pileup is None:
            return {}
        return self.pileup.draw_seeds(event_rng(self.seed, number))

    def event(self, number: int, particles: Any) -> tuple[dict, dict, dict]:
        """(the table Fatras gets, the record for HepMC3 output, what to log of the event)."""
        from acts_gnn.io.acts_edm import particles_to_columns
        from acts_gnn.simulation.fatras import event_rng

        read = generator_columns(particles_to_columns(particles))
        n = len(read["pdg"])
        read["parent_ctau"] = np.zeros(n)
        for c in PARENT_COLUMNS:
            read[c] = np.zeros(n)
        blocks = [read]
        info: dict[str, int] = {}
        if self.pileup is not None:
            self.pileup.generate(event_rng(self.seed, number))
            offset = int(read["vertex_primary"].max()) if n else 0
            for block in self.pileup.last_interactions:
                block = dict(block)
                block["vertex_primary"] = block["vertex_primary"] + np.uint32(offset)
                blocks.append(block)
            info = dict(self.pileup.last_seeds)
        record = concatenate_tables(blocks, PARENT_COLUMNS)
        if self.source.selection is None:
            return record, record, info
        keep = self.source.selection.mask(record)
        return {c: v[keep] for c, v in record.items()}, record, info
