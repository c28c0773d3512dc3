"""Conversions between ACTS event-data containers (pyacts objects) and numpy column tables.

The pyacts containers expose one object per particle or hit, so each conversion is one Python
loop over the container; everything after it is vectorised.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.io.schemas import barcode_hash, decode_geometry_id


def particles_to_columns(particles: Any) -> dict[str, npt.NDArray]:
    """``acts.examples.SimParticleContainer`` -> columns of the ROOT particle schema (GeV, mm)."""
    import acts

    u = acts.UnitConstants
    rows = [
        (
            p.particleId.vertexPrimary,
            p.particleId.vertexSecondary,
            p.particleId.particle,
            p.particleId.generation,
            p.particleId.subParticle,
            int(p.pdg),
            int(p.process),
            *p.fourPosition,
            *p.direction,
            p.absoluteMomentum,
            p.mass,
            p.charge,
            p.energyLoss,
            p.pathInX0,
            p.pathInL0,
            p.numberOfHits,
            int(p.outcome),
        )
        for p in particles
    ]
    a = np.array(rows, dtype=np.float64).reshape(len(rows), 22)
    ids = a[:, :5].astype(np.uint32)
    direction = a[:, 11:14]
    p_abs = a[:, 14] / u.GeV
    px, py, pz = (p_abs * direction[:, k] for k in range(3))
    pt = np.hypot(px, py)
    charge = a[:, 16] / u.e
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(np.where(pt > 0, pz / pt, np.sign(pz) * 1e10))
        q_over_p = np.where(p_abs > 0, charge / p_abs, 0.0)
    return {
        "particle_hash": barcode_hash(*(ids[:, k] for k in range(5))),
        "particle_type": a[:, 5].astype(np.int32),
        "process": a[:, 6].astype(np.uint32),
        "vx": a[:, 7] / u.mm,
        "vy": a[:, 8] / u.mm,
        "vz": a[:, 9] / u.mm,
        "vt": a[:, 10] / u.mm,
        "px": px,
        "py": py,
        "pz": pz,
        "m": a[:, 15] / u.GeV,
        "q": charge,
        "eta": eta,
        "phi": np.arctan2(py, px),
        "pt": pt,
        "p": p_abs,
        "q_over_p": q_over_p,
        "theta": np.arctan2(pt, pz),
        "vertex_primary": ids[:, 0],
        "vertex_secondary": ids[:, 1],
        "particle": ids[:, 2],
        "generation": ids[:, 3],
        "sub_particle": ids[:, 4],
        "orig_part_idx": np.zeros(len(a), dtype=np.uint32),
        "hf_origin": np.zeros(len(a), dtype=np.uint8),
        "e_loss": a[:, 17] / u.GeV,
        "total_x0": a[:, 18] / u.mm,
        "total_l0": a[:, 19] / u.mm,
        "number_of_hits": a[:, 20].astype(np.int32),
        "outcome": a[:, 21].astype(np.uint32),
    }


def simhits_to_columns(hits: Any) -> dict[str, npt.NDArray]:
    """``acts.examples.SimHitContainer`` -> columns of the ROOT hit schema (GeV, mm)."""
    import acts

    u = acts.UnitConstants
    n = len(hits)
    geometry_id = np.empty(n, dtype=np.uint64)
    ids = np.empty((n, 5), dtype=np.uint32)
    values = np.empty((n, 13), dtype=np.float64)
    for k, h in enumerate(hits):
        geometry_id[k] = h.geometryId.value
        b = h.particleId
        ids[k] = (b.vertexPrimary, b.vertexSecondary, b.particle, b.generation, b.subParticle)
        values[k] = (*h.fourPosition, *h.momentum4Before, *h.momentum4After, h.index)
    before = values[:, 4:8] / u.GeV
    delta = values[:, 8:12] / u.GeV - before
    columns: dict[str, npt.NDArray] = {
        "geometry_id": geometry_id,
        "barcode_vertex_primary": ids[:, 0],
        "barcode_vertex_secondary": ids[:, 1],
        "barcode_particle": ids[:, 2],
        "barcode_generation": ids[:, 3],
        "barcode_sub_particle": ids[:, 4],
        "tx": values[:, 0] / u.mm,
        "ty": values[:, 1] / u.mm,
        "tz": values[:, 2] / u.mm,
        "tt": values[:, 3] / u.mm,
        "tpx": before[:, 0],
        "tpy": before[:, 1],
        "tpz": before[:, 2],
        "te": before[:, 3],
        "deltapx": delta[:, 0],
        "deltapy": delta[:, 1],
        "deltapz": delta[:, 2],
        "deltae": delta[:, 3],
        "index": values[:, 12].astype(np.int32),
    }
    for field in ("volume", "boundary", "layer", "approach", "sensitive"):
        columns[f"{field}_id"] = decode_geometry_id(geometry_id, field)
    return columns


def columns_to_sim_particles(table: dict[str, npt.NDArray]) -> Any:
    """Generated particle columns (see simulation.generator.PARTICLE_COLUMNS, plus an optional
    ``vertex_secondary``) -> ACTS container."""
    import acts
    import acts.examples

    u = acts.UnitConstants
    container = acts.examples.SimParticleContainer()
    p = np.stack([table["px"], table["py"], table["pz"]], axis=1)
    p_abs = np.linalg.norm(p, axis=1)
    direction = p / np.where(p_abs > 0, p_abs, 1.0)[:, None]
    secondary = table.get("vertex_secondary")
    for k in range(len(p_abs)):
        barcode = acts.examples.SimBarcode()
        barcode.vertexPrimary = int(table["vertex_primary"][k])
        if secondary is not None:
            barcode.vertexSecondary = int(secondary[k])
        barcode.particle = int(table["particle"][k])
        particle = acts.examples.SimParticle(
            barcode,
            acts.PdgParticle(int(table["pdg"][k])),
            float(table["q"][k]) * u.e,
            float(table["m"][k]) * u.GeV,
        )
        particle.fourPosition = acts.Vector4(
            float(table["vx"][k]) * u.mm,
            float(table["vy"][k]) * u.mm,
            float(table["vz"][k]) * u.mm,
            float(table["vt"][k]) * u.mm,
        )
        particle.direction = acts.Vector3(*(float(c) for c in direction[k]))
        particle.absoluteMomentum = float(p_abs[k]) * u.GeV
        container.insert(particle)
    return container


def event_particle_table(
    particles: dict[str, npt.NDArray],
) -> tuple[dict[str, npt.NDArray], npt.NDArray]:
    """ROOT-schema particle columns -> (the Event particle table, the barcode hash of each
    row, for :func:`particle_rows`)."""
    n = len(particles["particle_type"])
    px, py, pz = (np.asarray(particles[c], np.float64) for c in ("px", "py", "pz"))
    pt = np.hypot(px, py)
    ids = [
        np.asarray(particles[c], np.uint32)
        for c in ("vertex_primary", "vertex_secondary", "particle", "generation", "sub_particle")
    ]
    table = {
        "particle_id": np.arange(n, dtype=np.int64),
        "vertex_primary": ids[0],
        "vertex_secondary": ids[1],
        "particle": ids[2],
        "generation": ids[3],
        "sub_particle": ids[4],
        "pdg": particles["particle_type"],
        "q": particles["q"],
        "px": px,
        "py": py,
        "pz": pz,
        "pt": pt,
        "p": np.sqrt(pt**2 + pz**2),
        "eta": np.arcsinh(pz / np.where(pt > 0, pt, 1e-12)),
        "phi": np.arctan2(py, px),
        "vx": particles["vx"],
        "vy": particles["vy"],
        "vz": particles["vz"],
        "n_measurements": np.zeros(n, dtype=np.int32),
        "is_primary": (ids[3] == 0) & (ids[1] == 0),
    }
    return table, barcode_hash(*ids)


def particle_rows(particle_hash: npt.NDArray, hashes: npt.NDArray) -> npt.NDArray[np.int64]:
    """Row of each barcode hash in ``particle_hash`` (-1 where absent)."""
    rows = np.full(len(hashes), -1, dtype=np.int64)
    if len(particle_hash) == 0 or len(hashes) == 0:
        return rows
    order = np.argsort(particle_hash)
    pos = np.minimum(np.searchsorted(particle_hash[order], hashes), len(order) - 1)
    found = particle_hash[order][pos] == hashes
    rows[found] = order[pos[found]]
    return rows


def hit_columns(
    measurement_id: npt.NDArray[np.int64],
    positions: npt.NDArray[np.float64],
    geometry_id: npt.NDArray[np.uint64],
    particle_id: npt.NDArray[np.int64],
    local: npt.NDArray[np.float64] | None = None,
) -> dict[str, npt.NDArray]:
    """The Event hit table from measurement ids [N], global positions [N, 3] (mm), module ids
    [N], particle rows [N] and local (loc0, loc1, var0, var1) [N, 4] (mm, mm^2; zeros if
    None)."""
    x, y, z = positions[:, 0], positions[:, 1], positions[:, 2]
    r = np.hypot(x, y)
    local = np.zeros((len(x), 4)) if local is None else local
    return {
        "measurement_id": measurement_id,
        "x": x,
        "y": y,
        "z": z,
        "r": r,
        "phi": np.arctan2(y, x),
        "eta": np.arcsinh(z / np.where(r > 0, r, 1e-9)),
        "geometry_id": geometry_id,
        "volume_id": decode_geometry_id(geometry_id, "volume"),
        "layer_id": decode_geometry_id(geometry_id, "layer"),
        "loc0": local[:, 0],
        "loc1": local[:, 1],
        "var_loc0": local[:, 2],
        "var_loc1": local[:, 3],
        "particle_id": particle_id,
    }


def data_handle(algorithm: Any, kind: str, cls: Any, key: str, name: str) -> Any:
    """An initialised ``acts.examples.ReadDataHandle`` (``kind="read"``) or
    ``WriteDataHandle`` (``"write"``) of ``algorithm`` for whiteboard entry ``name``."""
    import acts.examples

    handle_type = {"read": acts.examples.ReadDataHandle, "write": acts.examples.WriteDataHandle}
    handle = handle_type[kind](algorithm, cls, key)
    handle.initialize(name)
    return handle
