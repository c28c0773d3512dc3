#!/usr/bin/env python3
"""GNN track finding with a module map on the generic detector, in the shape of upstream ACTS's
``Examples/Scripts/Python/gnn_module_map_odd.py``.

The same sequence of calls, names and knobs as the upstream script; what differs from it (see
docs/acts-integration.md, "Porting an upstream script"): the imports (``acts_gnn`` instead of
``acts.gnn`` / ``acts.examples.gnn`` / ``acts.examples.reconstruction.addGnn``), the file paths
(our module map and model), the detector (the GenericDetector: the wheel has no DD4hep), the
values that belong to the model (its node features and scales), and, on a machine without
CUDA, ``device=`` where upstream's knobs select CUDA (``ModuleMapCuda``, ``OnnxEdgeClassifier``,
``addGnn``; ``TorchEdgeClassifier`` and ``CudaTrackBuilding`` follow ``addGnn``'s, as upstream).

Run: ``python examples/gnn_module_map_generic.py [--events N] [--operating-point lowpt]``;
prints the efficiency, fake and duplicate ratios of the proto-tracks as ACTS's own matcher and
writer count them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

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

from acts_gnn import CudaTrackBuilding, Device, ModuleMapCuda, NodeFeature, addGnn
from acts_gnn.chain.defaults import OPERATING_POINTS, default_files
from acts_gnn.detector import load_generic_detector


def runGnnModuleMap(
    trackingGeometry,
    field,
    geometrySelection,
    stripGeometrySelection,
    digiConfigFile,
    moduleMapPath,
    gnnModel,
    outputDir,
    events=100,
    shrinkNodes=False,
    s=None,
    *,
    decorators=(),
    multiplicity=50,
    device=None,
):
    """GNN tracking with a module map: particle gun -> Fatras -> digitization -> space points
    -> ModuleMapCuda -> edge classifier -> CudaTrackBuilding -> proto-tracks."""
    assert Path(moduleMapPath).exists(), f"Module map not found: {moduleMapPath}"
    assert Path(gnnModel).exists(), f"Model file not found: {gnnModel}"
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
        stripGeoSelectionConfigFile=stripGeometrySelection,
        logLevel=acts.logging.WARNING,
    )

    moduleMapConfig = {
        "level": acts.logging.INFO,
        "moduleMapPath": str(moduleMapPath),
        "rScale": 1000.0,
        "phiScale": 3.141592654,
        "zScale": 1000.0,
        "etaScale": 1.0,
        "gpuDevice": 0,
        "gpuBlocks": 512,
    }
    if device.isCpu():
        moduleMapConfig["device"] = "cpu"  # ModuleMapCuda's own knobs select CUDA
    graphConstructor = ModuleMapCuda(**moduleMapConfig)

    gnnModel = Path(gnnModel)
    edgeClassifierConfig = {
        "level": acts.logging.INFO,
        "modelPath": str(gnnModel),
        "cut": 0.5,
    }

    edgeClassifiers: list[Any]
    if gnnModel.suffix == ".pt":
        edgeClassifierConfig["useEdgeFeatures"] = True
        from acts_gnn import TorchEdgeClassifier

        edgeClassifiers = [TorchEdgeClassifier(**edgeClassifierConfig)]
    elif gnnModel.suffix == ".onnx":
        from acts_gnn import OnnxEdgeClassifier

        edgeClassifierConfig["device"] = device
        edgeClassifiers = [OnnxEdgeClassifier(**edgeClassifierConfig)]
    else:
        raise ValueError(f"Unsupported model format: {gnnModel.suffix}")

    trackBuilderConfig = {
        "level": acts.logging.INFO,
        "useOneBlockImplementation": False,
        "doJunctionRemoval": True,
    }
    trackBuilder = CudaTrackBuilding(**trackBuilderConfig)

    # the model's node features and scales (its metadata): r, phi, z, eta
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
        inputClusters="clusters",
        outputDirRoot=str(outputDir),
        device=device,
        shrinkNodes=shrinkNodes,
        logLevel=acts.logging.INFO,
    )

    return s


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument(
        "--operating-point",
        choices=tuple(OPERATING_POINTS),
        default="default",
        help="the shipped module map and GNN: default (pT > 1 GeV) or lowpt (pT > 0.5 GeV), in "
        "one pass without track cleaning, as the upstream script; lowpt's first pass and "
        "cleaning: examples/full_chain_generic.py",
    )
    args = parser.parse_args()

    detector = load_generic_detector()
    trackingGeometry = detector.tracking_geometry
    field = detector.field
    files = default_files()
    pointMap, pointModel = files.operating_point(args.operating_point)
    moduleMapPath = files.require(pointMap, "module map")
    gnnModel = files.require(pointModel, "GNN")
    outputDir = Path.cwd()

    s = runGnnModuleMap(
        trackingGeometry=trackingGeometry,
        field=field,
        geometrySelection=detector.spacepoint_selection_file,
        stripGeometrySelection=None,
        digiConfigFile=detector.digi_config_file,
        moduleMapPath=moduleMapPath,
        gnnModel=gnnModel,
        outputDir=outputDir,
        events=args.events,
        decorators=detector.decorators,
    )
    s.run()
    stats = s.gnnPerformanceWriter.stats()
    print(
        f"efficiency {stats['efficiencyParticles']:.4f}  fake ratio "
        f"{stats['fakeRatioTracks']:.4f}  duplicate ratio {stats['duplicateRatioTracks']:.4f}"
    )
