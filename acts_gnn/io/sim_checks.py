"""Do one event's hits and particles belong together? (:func:`check_event`)

Two files of one simulation agree on every event: each hit's barcode is a particle of the
event, no hit carries more momentum than its particle had at production, and no particle has
more hits than its ``number_of_hits``. A ``particles.root`` of another run with the same event
ids breaks all three for about half the hits; a particle file of generated particles only
(without secondaries), or a subset of the hits, breaks none beyond the tolerances here.
:class:`acts_gnn.io.root_reader.SimulationFiles` applies the check to every event it serves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from acts_gnn.errors import InputDataError
from acts_gnn.io.acts_edm import particle_rows
from acts_gnn.io.schemas import barcode_hash

#: Barcode components, in the order of :func:`acts_gnn.io.schemas.barcode_hash`; the hit
#: branches are ``barcode_<component>``.
BARCODE_FIELDS = ("vertex_primary", "vertex_secondary", "particle", "generation", "sub_particle")

#: Largest fraction of an event's hits whose barcode may be absent from that event's particles
#: (a particle file of generated particles lacks the secondaries; one of another run lacks
#: about half the barcodes). Above it the two files do not belong together.
MAX_ORPHAN_FRACTION = 0.25
#: Largest fraction of an event's hits (with a particle) that may carry more momentum than
#: their particle had at production (physically none: energy is only lost; 1 % slack on the
#: momentum for float32 rounding). A particle file of another run gives about half.
MAX_MOMENTUM_GAIN_FRACTION = 0.01
#: Largest fraction of an event's particles that may have more hits in hits.root than their
#: ``number_of_hits`` says (a subset of the hits gives fewer, never more).
MAX_HIT_COUNT_EXCESS_FRACTION = 0.05


def check_event(
    event_id: int,
    particles: dict[str, npt.NDArray],
    hits: dict[str, npt.NDArray],
    particles_file: str | Path | None = None,
) -> None:
    """Raise :class:`InputDataError` unless one event's hits and particles belong together.

    Three tests, each with a tolerance (module constants): the fraction of hits whose barcode
    is not among the particles (:data:`MAX_ORPHAN_FRACTION`); of hits with a particle, the
    fraction with more momentum than the particle had at production (needs ``tpx, tpy, tpz``;
    :data:`MAX_MOMENTUM_GAIN_FRACTION`); of particles, the fraction with more hits than their
    ``number_of_hits`` (where that branch is filled; :data:`MAX_HIT_COUNT_EXCESS_FRACTION`).
    A particle file from another run with the same event ids fails all three.
    """
    n_hits = len(hits["geometry_id"])
    if n_hits == 0:
        return
    fields = BARCODE_FIELDS
    particle_hash = barcode_hash(*(particles[c] for c in fields))
    hit_hash = barcode_hash(*(hits[f"barcode_{c}"] for c in fields))
    rows = particle_rows(particle_hash, hit_hash)
    matched = rows >= 0
    problems = []
    # the all-zero barcode is no particle (noise hits, acts_gnn.simulation.noise): not an orphan
    noise = ~np.any(np.stack([np.asarray(hits[f"barcode_{c}"]) for c in fields]), axis=0)
    orphans = int((~matched & ~noise).sum())
    if orphans > MAX_ORPHAN_FRACTION * n_hits:
        problems.append(
            (
                "barcode_particle",
                f"{orphans} of {n_hits} hits ({100 * orphans / n_hits:.1f} %) have a barcode "
                "that is not among the event's particles",
            )
        )
    if matched.any() and all(c in hits for c in ("tpx", "tpy", "tpz")):
        p_hit = np.sqrt(sum(np.asarray(hits[c], np.float64) ** 2 for c in ("tpx", "tpy", "tpz")))
        p_particle = np.sqrt(
            sum(np.asarray(particles[c], np.float64) ** 2 for c in ("px", "py", "pz"))
        )
        gain = p_hit[matched] > 1.01 * p_particle[rows[matched]] + 1e-4
        n_gain = int(gain.sum())
        if n_gain > MAX_MOMENTUM_GAIN_FRACTION * int(matched.sum()):
            problems.append(
                (
                    "px",
                    f"{n_gain} of {int(matched.sum())} hits ({100 * n_gain / matched.sum():.1f} "
                    "%) have more momentum than their particle had at production",
                )
            )
    if "number_of_hits" in particles and np.any(particles["number_of_hits"] > 0):
        counts = np.bincount(rows[matched], minlength=len(particle_hash))
        with_hits = counts > 0
        excess = int((counts > particles["number_of_hits"]).sum())
        if excess > MAX_HIT_COUNT_EXCESS_FRACTION * int(with_hits.sum()):
            problems.append(
                (
                    "number_of_hits",
                    f"{excess} of {int(with_hits.sum())} particles with hits have more hits "
                    "than their number_of_hits",
                )
            )
    if problems:
        raise InputDataError(
            "hits and particles do not belong together (particles.root from another run?): "
            + "; ".join(text for _, text in problems),
            file=particles_file,
            event=event_id,
            field=problems[0][0],
        )
