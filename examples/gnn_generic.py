#!/usr/bin/env python3
"""GNN track finding with metric learning on the generic detector, in the shape of upstream
ACTS's ``Examples/Scripts/Python/gnn.py``.

The same sequence of calls, names and knobs as the upstream script (``TorchMetricLearning`` ->
two ``TorchEdgeClassifier`` (filter, GNN) -> ``BoostTrackBuilding``, through ``addGnn``); what
differs from it (see docs/acts-integration.md, "Porting an upstream script"): the imports
(``acts_gnn`` instead of ``acts.examples.gnn`` / ``acts.examples.reconstruction.addGnn``), the
model paths (our embedding, filter and GNN), the detector (the GenericDetector: the wheel has no
DD4hep; the simulation is written out here instead of upstream's ``runDigitization`` helper),
the values that belong to the models (the embedding's radius and k, the filter's working point,
the node features and scales, edge features and directed edges for our filter and GNN), and, on
a machine without CUDA, ``device=``.

Our filter and GNN were trained on edges oriented inner -> outer, which their metadata records;
``TorchMetricLearning`` gives upstream's ``(min, max)`` index pairs, and the pipeline orients
them for these models (an upstream model, without our metadata, gets upstream's order).

Run: ``python examples/gnn_generic.py [--events N]``; prints the efficiency, fake and duplicate
ratios of the proto-tracks as ACTS's own matcher and writer count them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import acts
import acts.examples
import torch
from acts import UnitConstants as u
from acts.examples import Sequencer
from acts.examples.reconstruction import addSpacePointsMaking
from acts.examples.simulation import (
    EtaConfig,
    MomentumConfig,
    ParticleConfig,
    ParticleSelectorConfig,
    PhiConfig,
    addDigiParticleSelection,
    addDigitization,
    addFatras,
    addParticleGun,
)

from acts_gnn import (
    BoostTrackBuilding,
    Device,
    NodeFeature,
    TorchEdgeClassifier,
    TorchMetricLearning,
    addGnn,
)
from acts_gnn.chain.defaults import default_files
from acts_gnn.detector import load_generic_detector


def runGnnMetricLearning(
    trackingGeometry,
    field,
    outputDir,
    digiConfigFile,
    geometrySelection,
    embedModelPath,
    filterModelPath,
    gnnModelPath,
    outputRoot=False,
    outputCsv=False,
    s=None,
    *,
    events=100,
    decorators=(),
    multiplicity=50,
    device=None,
):
    """GNN tracking with metric learning: particle gun -> Fatras -> digitization -> space
    points -> TorchMetricLearning -> filter -> GNN -> BoostTrackBuilding -> proto-tracks."""
    for path in (embedModelPath, filterModelPath, gnnModelPath):
        assert Path(path).exists(), f"Model file not found: {path}"
    device = device or (Device.Cuda() if torch.cuda.is_available() else Device.Cpu())

    s = s or Sequencer(events=events, numThreads=1)
    for decorator in decorators:
        s.addContextDecorator(decorator)

    rnd = acts.examples.RandomNumbers(seed=42)

    addParticleGun(
        s,
        MomentumConfig(1.0 * u.GeV, 10.0 * u.GeV, transverse=True),
        EtaConfig(-2.5, 2.5, uniform=True),
        PhiConfig(0.0, 360.0 * u.degree),
        ParticleConfig(10, acts.PdgParticle.eMuon, randomizeCharge=True),
        vtxGen=acts.examples.GaussianVertexGenerator(
            mean=acts.Vector4(0, 0, 0, 0),
            stddev=acts.Vector4(0.0125 * u.mm, 0.0125 * u.mm, 55.5 * u.mm, 1.0 * u.ns),
        ),
        multiplicity=multiplicity,
        rnd=rnd,
    )

    addFatras(
        s,
        trackingGeometry,
        field,
        rnd=rnd,
        enableInteractions=True,
        outputDirRoot=None,
        outputDirCsv=None,
        outputDirObj=None,
        logLevel=acts.logging.WARNING,
    )

    addDigitization(
        s,
        trackingGeometry,
        field,
        digiConfigFile=digiConfigFile,
        rnd=rnd,
        logLevel=acts.logging.WARNING,
    )

    addDigiParticleSelection(
        s,
        ParticleSelectorConfig(
            pt=(1.0 * u.GeV, None),
            eta=(-2.5, 2.5),
            measurements=(7, None),
            removeNeutral=True,
        ),
    )

    addSpacePointsMaking(
        s,
        trackingGeometry,
        geoSelectionConfigFile=geometrySelection,
        stripGeoSelectionConfigFile=None,
        logLevel=acts.logging.WARNING,
    )

    # the embedding's own radius and k (its metadata: r, k)
    metricLearningConfig = {
        "level": acts.logging.INFO,
        "embeddingDim": 8,
        "rVal": 0.6,
        "knnVal": 400,
        "modelPath": str(embedModelPath),
        "device": device,
    }

    # our filter and GNN take edge features (recorded in their metadata) on directed edges
    filterConfig = {
        "level": acts.logging.INFO,
        "cut": 0.0802,  # the filter's working point (its metadata: score_cut)
        "modelPath": str(filterModelPath),
        "nChunks": 10,
        "useEdgeFeatures": True,
    }

    gnnConfig = {
        "level": acts.logging.INFO,
        "cut": 0.5,
        "modelPath": str(gnnModelPath),
        "undirected": False,
        "useEdgeFeatures": True,
    }

    graphConstructor = TorchMetricLearning(**metricLearningConfig)
    edgeClassifiers = [
        TorchEdgeClassifier(**filterConfig),
        TorchEdgeClassifier(**gnnConfig),
    ]
    trackBuilder = BoostTrackBuilding(level=acts.logging.INFO)

    # the models' node features and scales (their metadata): r, phi, z, eta
    e = NodeFeature
    nodeFeatures = [e.R, e.Phi, e.Z, e.Eta]
    featureScales = [1000.0, 3.141592654, 1000.0, 1.0]

    addGnn(
        s,
        graphConstructor=graphConstructor,
        edgeClassifiers=edgeClassifiers,
        trackBuilder=trackBuilder,
        nodeFeatures=nodeFeatures,
        featureScales=featureScales,
        outputDirRoot=str(outputDir) if outputRoot else None,
        device=device,
        logLevel=acts.logging.INFO,
    )

    return s


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args()

    detector = load_generic_detector()
    files = default_files()
    s = runGnnMetricLearning(
        trackingGeometry=detector.tracking_geometry,
        field=detector.field,
        outputDir=Path.cwd(),
        digiConfigFile=detector.digi_config_file,
        geometrySelection=detector.spacepoint_selection_file,
        embedModelPath=files.require(files.embedding, "embedding"),
        filterModelPath=files.require(files.filter, "filter"),
        gnnModelPath=files.require(files.gnn("metric-learning"), "GNN"),
        outputRoot=True,
        events=args.events,
        decorators=detector.decorators,
    )
    s.run()
    stats = s.gnnPerformanceWriter.stats()
    print(
        f"efficiency {stats['efficiencyParticles']:.4f}  fake ratio "
        f"{stats['fakeRatioTracks']:.4f}  duplicate ratio {stats['duplicateRatioTracks']:.4f}"
    )
