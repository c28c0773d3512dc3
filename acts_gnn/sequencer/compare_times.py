"""Time per event of each chain of a comparison, from the Sequencer's ``timing.csv``.

:func:`stage_times` attributes each algorithm's seconds per event to a chain and a stage
(:data:`STAGES`) from the order the algorithms were added in
(:func:`~acts_gnn.sequencer.compare.run_comparison`: the GNN chain first, then one CKF
chain per preset, each starting with its own space points); :func:`split_cut_times` gives
each of several GNN edge cuts its own total.
"""

from __future__ import annotations

import csv
from pathlib import Path

from acts_gnn.sequencer.gnn_cuts import MARKER_PREFIX

#: Sequencer algorithms -> (chain, stage); SpacePointMaker rows alternate gnn, ckf
STAGES = {
    "Algorithm:TrackFindingAlgorithmGnn": ("gnn", "GNN track finding"),
    "Algorithm:ProtoTracksToParameters": ("gnn", "track parameters"),
    "Algorithm:TrackFittingAlgorithm": ("gnn", "Kalman fit"),
    "Algorithm:TrackMerge": ("gnn", "Kalman fit"),  # the fallback fits joined to the others
    "Algorithm:GridTripletSeedingAlgorithm": ("ckf", "seeding"),
    "Algorithm:TrackParamsEstimationAlgorithm": ("ckf", "track parameters"),
    "Algorithm:TrackFindingAlgorithm": ("ckf", "CKF"),
    "Algorithm:GreedyAmbiguityResolutionAlgorithm": ("ckf", "ambiguity resolution"),
}


def stage_times(
    timing_csv: Path, ckf_labels: tuple[str, ...] = ("ckf",), gnn_labels: tuple[str, ...] = ()
) -> dict[str, dict[str, float]]:
    """chain -> stage -> seconds per event, from the Sequencer's ``timing.csv`` (algorithms
    in the order added: the GNN's space points first, then one CKF chain per label, each
    starting with its own space points; a CKF stage before the first CKF chain's space
    points, such as the GNN chain's start-parameter estimate, is the GNN chain's). The GNN
    stages after a ``GnnCut_<label>`` marker (:class:`~acts_gnn.sequencer.gnn_cuts.
    CutMarker`) are those of the extra cut ``label`` of ``gnn_labels``."""
    out: dict[str, dict[str, float]] = {
        "gnn": {},
        **{label: {} for label in gnn_labels},
        **{label: {} for label in ckf_labels},
    }
    space_point_makers = 0
    current = ckf_labels[0]
    gnn_current = "gnn"
    marker = f"Algorithm:{MARKER_PREFIX}"
    with timing_csv.open() as f:
        for row in csv.DictReader(f):
            name, seconds = row["identifier"], float(row["time_perevent_s"])
            if name == "Algorithm:SpacePointMaker":
                chain = "gnn" if space_point_makers == 0 else ckf_labels[space_point_makers - 1]
                current = chain if chain != "gnn" else current
                gnn_current = "gnn"  # a marker holds until the next chain's space points
                space_point_makers += 1
                out[chain]["space points"] = out[chain].get("space points", 0.0) + seconds
            elif name.startswith(marker) and name[len(marker) :] in gnn_labels:
                gnn_current = name[len(marker) :]
            elif name in STAGES:
                chain, stage = STAGES[name]
                if chain == "ckf":  # before the first CKF chain's space points: the GNN's
                    chain = current if space_point_makers > 1 else "gnn"
                if chain == "gnn":
                    chain = gnn_current
                out[chain][stage] = out[chain].get(stage, 0.0) + seconds
    return out


def split_cut_times(
    times: dict[str, dict[str, float]], gnn_labels: tuple[str, ...], building: list[float]
) -> None:
    """Give each GNN edge cut its own time per event (in place): the shared stages (space
    points, graph construction, classification: ``GNN track finding`` less every cut's
    track building) plus its own track building (``building``: seconds per event, in
    ``gnn_labels`` order), start parameters and fit (already in ``times[label]``)."""
    gnn = times["gnn"]
    shared = gnn.get("GNN track finding", 0.0) - sum(building)
    gnn["GNN track finding"] = shared + building[0]
    for label, seconds in zip(gnn_labels[1:], building[1:], strict=True):
        times[label] = {
            "space points": gnn.get("space points", 0.0),
            "GNN track finding": shared + seconds,
            **times.get(label, {}),
        }


__all__ = ["STAGES", "split_cut_times", "stage_times"]
