#!/usr/bin/env python3
"""GNN track finding next to ACTS seeding + CKF on the generic (ITk-like) detector.

Written in the style of ACTS's own example scripts: ``runFullChainGeneric(..., s=None)``
extends (or creates) an ``acts.examples.Sequencer`` with ``addXxx`` helpers, ``__main__`` runs
it. From ROOT simulation files (``acts-gnn simulate``, or ACTS's ROOT writers), read through
uproot, to ACTS's performance numbers for both chains::

    acts-gnn simulate --events 3 --pileup 50 --seed 7 -o sim
    python examples/full_chain_generic.py --input sim

The module map and GNN default to the shipped ones; ``--module-map`` / ``--model`` take
yours. ``acts-gnn compare`` runs the same chains and also writes the report and plots.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import acts
import acts.examples

from acts_gnn.chain.cleaning import CleanedTrackBuilding, HelixOutlierRemoval
from acts_gnn.chain.defaults import (
    OPERATING_POINTS,
    default_files,
    edge_classifier,
    pipeline_features,
)
from acts_gnn.chain.pipeline import GnnPipeline
from acts_gnn.chain.tracks import WalkthroughTrackBuilding
from acts_gnn.detector import load_generic_detector
from acts_gnn.graph.module_map.formats import load_module_map
from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
from acts_gnn.io.root_reader import SimulationFiles
from acts_gnn.sequencer.reconstruction import (
    ForwardTrackSelection,
    addCkfReference,
    addGnn,
    addParticleSelection,
    addRootSimulationInput,
    addSpacePoints,
    addTrackPerformance,
    addTrackQualitySelection,
)


def gnnStages(modulePath: Path, modelPath: Path, cleaning: bool) -> dict[str, object]:
    """The module-map chain's stages for one map and GNN: graph construction, the GNN (edge
    cut 0.05 before the builder), the walkthrough (edge cut 0.5), behind the track cleaning if
    ``cleaning``; node features and scales as the model was trained."""
    nodeFeatures, featureScales = pipeline_features(modelPath)
    trackBuilder = WalkthroughTrackBuilding(cut_high=0.5, cut_low=0.1)
    if cleaning:  # hits off the candidate's helix removed
        trackBuilder = CleanedTrackBuilding(trackBuilder, HelixOutlierRemoval())
    return {
        "graphConstructor": ModuleMapGraphBuilder(load_module_map(modulePath)),
        "edgeClassifiers": [
            edge_classifier(modelPath, cut=0.05, node_features=tuple(nodeFeatures))
        ],
        "trackBuilder": trackBuilder,
        "nodeFeatures": nodeFeatures,
        "featureScales": featureScales,
    }


def runFullChainGeneric(
    inputDir: Path,
    modulePath: Path | None = None,
    modelPath: Path | None = None,
    events: int | None = None,
    s: acts.examples.Sequencer | None = None,
    operatingPoint: str = "default",
) -> tuple[acts.examples.Sequencer, dict[str, object]]:
    """Both chains on the events of ``inputDir``; returns the Sequencer and the performance
    writers (their ``stats()`` after ``s.run()``). ``operatingPoint``: the shipped map and GNN
    used where ``modulePath`` / ``modelPath`` are None (``default``: pT > 1 GeV, ``lowpt``:
    pT > 0.5 GeV, with its track cleaning and ``default`` as its first pass)."""
    detector = load_generic_detector()
    files = default_files()
    pointMap, pointModel = files.operating_point(operatingPoint, backend="onnx")
    modulePath = modulePath or files.require(pointMap, f"module map ({operatingPoint})")
    modelPath = modelPath or files.require(pointModel, f"GNN ({operatingPoint})")
    n_events = len(SimulationFiles.from_dir(inputDir).event_ids)
    s = s or acts.examples.Sequencer(
        events=min(events or n_events, n_events),
        numThreads=1,
        logLevel=acts.logging.WARNING,
        trackFpes=False,
    )
    for decorator in detector.decorators:
        s.addContextDecorator(decorator)

    addRootSimulationInput(s, inputDir, detector)
    addParticleSelection(s)  # pT > 1 GeV, |eta| < 2.5, >= 7 measurements

    point = OPERATING_POINTS[operatingPoint]
    firstPass = None
    if point.first_pass is not None:  # lowpt: the default point first, on every space point
        firstMap, firstModel = files.operating_point(point.first_pass, backend="onnx")
        firstPass = GnnPipeline(
            **gnnStages(firstMap, firstModel, point.track_cleaning),  # type: ignore[arg-type]
            minMeasurementsPerTrack=7,
        )
    addGnn(
        s,
        **gnnStages(modulePath, modelPath, point.track_cleaning),  # type: ignore[arg-type]
        firstPass=firstPass,  # the stages above then run on the space points it left
        inputSpacePoints=addSpacePoints(
            s, detector, detector.spacepoint_selection_file, "gnn_spacepoints"
        ),
        device="cpu",
        detector=detector,
        minMeasurementsPerTrack=7,
        matchTracks=False,  # addTrackPerformance below matches the selected fitted tracks
        fit=True,
    )
    # the CKF's own selection, and beyond the acceptance (|eta| >= 2.5) one measurement
    # more, as acts-gnn compare does (docs/results.md, "Fake tracks of the GNN chain")
    addTrackQualitySelection(
        s, "gnn_tracks", "gnn_selected_tracks", forward=ForwardTrackSelection()
    )
    addCkfReference(s, detector)

    writers = {
        "gnn": addTrackPerformance(s, "gnn_selected_tracks", "gnn"),
        "ckf": addTrackPerformance(s, "ckf_tracks", "ckf"),
    }
    return s, writers


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, required=True, help="simulation folder (ROOT)")
    parser.add_argument("--module-map", type=Path, default=None)
    parser.add_argument("--model", type=Path, default=None, help=".onnx or TorchScript")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--operating-point", choices=tuple(OPERATING_POINTS), default="default")
    args = parser.parse_args()
    sequencer, writers = runFullChainGeneric(
        args.input, args.module_map, args.model, args.events, operatingPoint=args.operating_point
    )
    sequencer.run()
    print(f"{'chain':>6} {'efficiency':>11} {'fake ratio':>11} {'duplicate ratio':>16}")
    for name, writer in writers.items():
        st = writer.stats()  # type: ignore[attr-defined]
        print(
            f"{name:>6} {st['efficiencyParticles']:>11.4f} {st['fakeRatioTracks']:>11.4f} "
            f"{st['duplicateRatioTracks']:>16.4f}"
        )
