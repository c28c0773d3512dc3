"""The ROOT schemas of ACTS's ``RootParticleWriter`` and ``RootSimHitWriter`` (ACTS 48).

Branch names, element types and units are those ACTS writes, so our files load in
``acts.examples.uproot.UprootParticleReader`` / ``UprootSimHitReader`` and in ROOT.

One difference is forced by uproot: it cannot write ``std::vector`` branches, so the per-event
particle branches are variable-length arrays ``float[nvx]`` with an ``n<name>`` counter branch
next to each. Readers that go by branch name (uproot, ACTS's uproot readers, ``TTree::Draw``)
see the same data either way.
"""

from __future__ import annotations

import numpy as np

PARTICLE_TREE = "particles"
HIT_TREE = "hits"

#: particles tree: one entry per event; every branch but event_id holds one value per particle.
PARTICLE_BRANCHES: dict[str, np.dtype] = {
    "event_id": np.dtype(np.uint32),
    "particle_hash": np.dtype(np.uint64),
    "particle_type": np.dtype(np.int32),  # PDG id
    "process": np.dtype(np.uint32),
    "vx": np.dtype(np.float32),  # mm
    "vy": np.dtype(np.float32),
    "vz": np.dtype(np.float32),
    "vt": np.dtype(np.float32),  # mm (ACTS writes the time divided by mm)
    "px": np.dtype(np.float32),  # GeV
    "py": np.dtype(np.float32),
    "pz": np.dtype(np.float32),
    "m": np.dtype(np.float32),  # GeV
    "q": np.dtype(np.float32),  # e
    "eta": np.dtype(np.float32),
    "phi": np.dtype(np.float32),
    "pt": np.dtype(np.float32),  # GeV
    "p": np.dtype(np.float32),  # GeV
    "q_over_p": np.dtype(np.float32),  # e/GeV
    "theta": np.dtype(np.float32),
    "vertex_primary": np.dtype(np.uint32),
    "vertex_secondary": np.dtype(np.uint32),
    "particle": np.dtype(np.uint32),
    "generation": np.dtype(np.uint32),
    "sub_particle": np.dtype(np.uint32),
    "orig_part_idx": np.dtype(np.uint32),
    "hf_origin": np.dtype(np.uint8),
    "e_loss": np.dtype(np.float32),  # GeV
    "total_x0": np.dtype(np.float32),  # mm in X0 units
    "total_l0": np.dtype(np.float32),
    "number_of_hits": np.dtype(np.int32),
    "outcome": np.dtype(np.uint32),
}

#: hits tree: one entry per hit.
HIT_BRANCHES: dict[str, np.dtype] = {
    "event_id": np.dtype(np.uint32),
    "geometry_id": np.dtype(np.uint64),
    "barcode_vertex_primary": np.dtype(np.uint32),
    "barcode_vertex_secondary": np.dtype(np.uint32),
    "barcode_particle": np.dtype(np.uint32),
    "barcode_generation": np.dtype(np.uint32),
    "barcode_sub_particle": np.dtype(np.uint32),
    "tx": np.dtype(np.float32),  # mm
    "ty": np.dtype(np.float32),
    "tz": np.dtype(np.float32),
    "tt": np.dtype(np.float32),  # mm
    "tpx": np.dtype(np.float32),  # GeV, before the hit
    "tpy": np.dtype(np.float32),
    "tpz": np.dtype(np.float32),
    "te": np.dtype(np.float32),
    "deltapx": np.dtype(np.float32),  # GeV, after minus before
    "deltapy": np.dtype(np.float32),
    "deltapz": np.dtype(np.float32),
    "deltae": np.dtype(np.float32),
    "index": np.dtype(np.int32),  # hit number along the particle's trajectory
    "volume_id": np.dtype(np.uint32),
    "boundary_id": np.dtype(np.uint32),
    "layer_id": np.dtype(np.uint32),
    "approach_id": np.dtype(np.uint32),
    "sensitive_id": np.dtype(np.uint32),
}

#: Branches a reader needs; the rest are informative (a file missing them is still usable).
REQUIRED_PARTICLE_BRANCHES = (
    "event_id",
    "particle_type",
    "vx",
    "vy",
    "vz",
    "px",
    "py",
    "pz",
    "q",
    "m",
    "vertex_primary",
    "vertex_secondary",
    "particle",
    "generation",
    "sub_particle",
)
REQUIRED_HIT_BRANCHES = (
    "event_id",
    "geometry_id",
    "barcode_vertex_primary",
    "barcode_vertex_secondary",
    "barcode_particle",
    "barcode_generation",
    "barcode_sub_particle",
    "tx",
    "ty",
    "tz",
    "index",
)

# GeometryIdentifier bit layout (ACTS): volume 8 | boundary 8 | layer 12 | approach 8 |
# sensitive 20 | extra 8 bits, from the most significant end.
GEOMETRY_ID_FIELDS: dict[str, tuple[int, int]] = {
    "volume": (56, 0xFF),
    "boundary": (48, 0xFF),
    "layer": (36, 0xFFF),
    "approach": (28, 0xFF),
    "sensitive": (8, 0xFFFFF),
    "extra": (0, 0xFF),
}


def decode_geometry_id(geometry_id: np.ndarray, field: str) -> np.ndarray:
    """One field (volume, layer, sensitive, ...) of ACTS geometry ids, vectorised (uint32)."""
    shift, mask = GEOMETRY_ID_FIELDS[field]
    return (
        (np.asarray(geometry_id, dtype=np.uint64) >> np.uint64(shift)) & np.uint64(mask)
    ).astype(np.uint32)


def barcode_hash(
    vertex_primary: np.ndarray,
    vertex_secondary: np.ndarray,
    particle: np.ndarray,
    generation: np.ndarray,
    sub_particle: np.ndarray,
) -> np.ndarray:
    """A 64-bit hash of the barcode components (FNV-1a over the five 32-bit words)."""
    h = np.full(np.shape(particle), 0xCBF29CE484222325, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for part in (vertex_primary, vertex_secondary, particle, generation, sub_particle):
            h = (h ^ np.asarray(part, dtype=np.uint64)) * prime
    return h
