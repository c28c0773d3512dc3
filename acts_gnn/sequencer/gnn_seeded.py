"""The GNN-seeded CKF: triplet-GNN seeds -> ACTS track parameters -> CKF -> ambiguity resolution.

:func:`addGnnSeededCkf` puts into a Sequencer

1. a :class:`~acts_gnn.sequencer.algorithm.TrackFindingAlgorithmGnn` named
   ``GnnTripletSeeding``: module map -> doublet GNN (keeping the doublets above the triplet
   model's ``doublet_cut``) -> :class:`~acts_gnn.graph.triplets.TripletSeeding` (triplet graph
   -> triplet classifier -> the triplets above its cut that pass the seed cuts
   (:func:`seed_cuts`: pT > the CKF preset's ``min_pt`` and no two hits closer than
   :data:`MIN_SEED_DELTA_R` in radius, so never two hits of one layer) -> the
   :data:`SEEDS_PER_CHAIN` innermost of every chain of them), whose
   proto-tracks are seeds of three measurements ordered inner -> outer (bottom, middle, top);
2. ``ProtoTracksToSeeds`` (pyacts 48's conversion of proto-tracks and the space points they
   were made of into an ACTS ``SeedContainer`` on the whiteboard; it keeps the proto-track's
   order, ``tests/sequencer/test_gnn_seeded.py``);
3. ``TrackParamsEstimationAlgorithm`` on those seeds (the start covariance of the CKF
   reference chain, :class:`~acts_gnn.sequencer.ckf.CkfSettings`);
4. the CKF of the reference chain (:func:`~acts_gnn.sequencer.reconstruction.addCkfFromSeeds`)
   and ``GreedyAmbiguityResolutionAlgorithm`` with the preset's knobs.

Output: ``<prefix>tracks`` (``gnn_seeded_tracks``). :func:`move_seeded_times` gives the chain
its own time per event in a comparison's ``timing.csv`` accounting.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import acts
import acts.examples

from acts_gnn.detector.generic import SOLENOID_FIELD_TESLA, Detector
from acts_gnn.sequencer.ckf import CkfSettings, ckf_preset

u = acts.UnitConstants

#: Smallest radial distance between consecutive hits of a seed (bottom-middle, middle-top)
#: [mm]. Two hits on one layer (overlapping neighbour modules, |dr| <= 2.8 mm in the pixel
#: barrel and <= 1.3 mm on the disks here; hits of different layers >= 5 mm apart) give
#: ACTS's three-point estimate a lever arm of ~2 mm, over which a pixel's 15 um error flips
#: the sign of q/p or doubles it, and the CKF then finds nothing
#: (docs/triplet-seeds.md, "Where the seeds were lost").
MIN_SEED_DELTA_R = 4 * u.mm
#: Seeds per chain of kept triplets: the innermost one and the next ones out along the chain
#: (the CKF's seed deduplication skips a further seed whose hits a track already holds).
SEEDS_PER_CHAIN = 2
#: Largest radius of a seed's bottom hit [mm]; None: no cut (seeds in the strips too).
MAX_SEED_R: float | None = None

#: Name of the seeding algorithm (its row of ``timing.csv``).
SEEDING_NAME = "GnnTripletSeeding"
#: ``timing.csv`` rows of the chain -> its stage names.
SEEDED_STAGES = {
    f"Algorithm:{SEEDING_NAME}": "GNN triplet seeding",
    "Algorithm:ProtoTracksToSeeds": "track parameters",
    "Algorithm:TrackParamsEstimationAlgorithm": "track parameters",
    "Algorithm:TrackFindingAlgorithm": "CKF",
    "Algorithm:GreedyAmbiguityResolutionAlgorithm": "ambiguity resolution",
}


def seed_cuts(
    settings: CkfSettings | None = None,
    impact_cut: bool = False,
    max_seed_r: float | None = MAX_SEED_R,
    min_delta_r: float | None = MIN_SEED_DELTA_R,
    seeds_per_chain: int = SEEDS_PER_CHAIN,
) -> dict[str, Any]:
    """The seed selection of the chain, as keyword arguments of
    :class:`~acts_gnn.graph.triplets.TripletSeeding`
    (mm, GeV): circle pT > the CKF preset's ``min_pt`` (``settings``; default ``fast``);
    with ``impact_cut``, |d0| < its ``impact_max``; the bottom hit at r < ``max_seed_r``
    (None: anywhere, the default); consecutive seed hits >= ``min_delta_r`` apart in radius
    (:data:`MIN_SEED_DELTA_R`; None: no cut); the ``seeds_per_chain`` innermost seeds of
    every chain of kept triplets.

    The d0 cut is off by default: the three-hit circle's d0 is too coarse away from the
    innermost layers (3 mm loses 6 % of the target particles' seeds on MU = 200 events). The
    bottom hit is not kept in the pixels, as ACTS's seeds are: the space points here are one
    per 2D measurement in the strips too, and seeds there find the particles made beyond the
    pixels (docs/triplet-seeds.md)."""
    c = settings or CkfSettings()
    return {
        "maxSeedR": None if max_seed_r is None else max_seed_r / u.mm,
        "minPt": c.min_pt / u.GeV,
        "maxImpact": c.impact_max / u.mm if impact_cut else None,
        "bFieldTesla": SOLENOID_FIELD_TESLA,
        "minSeedDeltaR": None if min_delta_r is None else min_delta_r / u.mm,
        "seedsPerChain": seeds_per_chain,
    }


def seeding_stages(
    triplet_model: str | Path,
    module_map: str | Path | None = None,
    gnn: str | Path | None = None,
    triplet_cut: float | None = None,
    device: str = "cpu",
    settings: CkfSettings | None = None,
    **cuts: Any,
) -> dict[str, Any]:
    """The stage arguments of the seeding algorithm: the module-map graph builder, the doublet
    GNN (cut at the triplet model's ``doublet_cut``), the :class:`TripletSeeding` builder and
    the GNN's node features and scales (None: the shipped files). The seeds pass
    :func:`seed_cuts` (``settings``: the CKF preset, default ``fast``; ``cuts``: its other
    keyword arguments)."""
    from acts_gnn.chain.defaults import default_files, edge_classifier, pipeline_features
    from acts_gnn.graph.module_map.formats import load_module_map
    from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
    from acts_gnn.graph.triplets import TripletSeeding

    files = default_files()
    gnn_path = Path(gnn) if gnn else files.require(files.gnn(), "GNN")
    seeding = TripletSeeding(
        triplet_model, cut=triplet_cut, device=device, **seed_cuts(settings, **cuts)
    )
    names, scales = pipeline_features(gnn_path)
    return {
        "graphConstructor": ModuleMapGraphBuilder(
            load_module_map(module_map or files.require(files.module_map, "module map"))
        ),
        "edgeClassifiers": [
            edge_classifier(
                gnn_path,
                cut=seeding.doublet_cut,
                device=device,
                node_features=tuple(names),
                expected=("InteractionNetwork",),
            )
        ],
        "trackBuilder": seeding,
        "nodeFeatures": names,
        "featureScales": scales,
    }


def addGnnSeededCkf(
    s: acts.examples.Sequencer,
    detector: Detector,
    tripletModel: str | Path,
    inputSpacePoints: str = "spacepoints",
    settings: CkfSettings | str | None = None,
    prefix: str = "gnn_seeded_",
    moduleMap: str | Path | None = None,
    gnnModel: str | Path | None = None,
    tripletCut: float | None = None,
    device: str = "cpu",
    logLevel: Any = None,
    seedCuts: dict[str, Any] | None = None,
) -> str:
    """The GNN-seeded CKF (module docstring) on ``inputSpacePoints`` (one per measurement, as
    the GNN chain's); returns the output track collection ``<prefix>tracks``. ``settings``: the
    CKF preset (name or :class:`CkfSettings`; None: ``fast``) whose start covariance, CKF and
    ambiguity-resolution knobs are used; ``seedCuts``: keyword arguments of :func:`seed_cuts`
    other than the settings (None: its defaults). The seeding algorithm is ``s.gnnSeeding``."""
    from acts_gnn.sequencer.algorithm import TrackFindingAlgorithmGnn
    from acts_gnn.sequencer.reconstruction import addAmbiguityResolution, addCkfFromSeeds

    c = ckf_preset(settings) if isinstance(settings, str) else settings or CkfSettings()
    level = acts.examples.defaultLogging(s, logLevel)()
    stages = seeding_stages(
        tripletModel, moduleMap, gnnModel, tripletCut, device, c, **(seedCuts or {})
    )
    protos = f"{prefix}prototracks"
    algorithm = TrackFindingAlgorithmGnn(
        **stages,
        inputSpacePoints=inputSpacePoints,
        outputProtoTracks=protos,
        minMeasurementsPerTrack=3,
        device=device,
        level=level,
        name=SEEDING_NAME,
    )
    s.addAlgorithm(algorithm)
    s.gnnSeeding = algorithm
    s.addAlgorithm(
        acts.examples.ProtoTracksToSeeds(
            level=level,
            inputProtoTracks=protos,
            inputSpacePoints=inputSpacePoints,
            outputSeeds=f"{prefix}seeds",
            outputProtoTracks=f"{prefix}seed_prototracks",
        )
    )
    s.addAlgorithm(
        acts.examples.TrackParamsEstimationAlgorithm(
            level=level,
            inputSeeds=f"{prefix}seeds",
            outputTrackParameters=f"{prefix}estimatedparameters",
            outputSeeds=f"{prefix}estimatedseeds",
            trackingGeometry=detector.tracking_geometry,
            magneticField=detector.field,
            # None: ACTS's default, as addSeeding does
            **acts.examples.defaultKWArgs(**c.start_covariance()),
        )
    )
    raw = f"{prefix}raw_tracks"
    out = f"{prefix}tracks"
    addCkfFromSeeds(
        s,
        detector,
        f"{prefix}estimatedparameters",
        f"{prefix}estimatedseeds",
        raw,
        level,
        c,
    )
    return addAmbiguityResolution(s, raw, out, c, level)


def move_seeded_times(
    times: dict[str, dict[str, float]],
    timing_csv: str | Path,
    label: str,
    attributed: dict[str, str],
) -> None:
    """Give the GNN-seeded chain ``label`` its own stage times (in place): the rows of
    ``timing_csv`` from the seeding algorithm on (the chain is added last) go to
    ``times[label]`` and are taken from the chain each was attributed to (``attributed``:
    ``"gnn"`` / ``"ckf"`` -> the chain :func:`~acts_gnn.sequencer.compare_times.stage_times`
    gave such rows after the last CKF chain's space points)."""
    from acts_gnn.sequencer.compare_times import STAGES

    mine: dict[str, float] = {}
    started = False
    with Path(timing_csv).open() as f:
        for row in csv.DictReader(f):
            name, seconds = row["identifier"], float(row["time_perevent_s"])
            started = started or name == f"Algorithm:{SEEDING_NAME}"
            if not started or name not in SEEDED_STAGES:
                continue
            stage = SEEDED_STAGES[name]
            mine[stage] = mine.get(stage, 0.0) + seconds
            if name in STAGES:
                chain, other = STAGES[name]
                owner = times.get(attributed.get(chain, chain), {})
                if other in owner:
                    owner[other] -= seconds
    times[label] = mine
