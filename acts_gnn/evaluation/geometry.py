"""Geometry validation (``acts-gnn geometry``): hit maps, module-map connectivity, config coverage.

Three questions about a detector set-up, answered from its tracking geometry (the geometry ids
and centres of its sensitive modules), its digitization and space-point-selection configs, a
few prepared events and, optionally, a module map:

* Where are the hits? r-z and x-y maps per volume
  (:func:`acts_gnn.evaluation.plots.plot_hit_maps`,
  :func:`acts_gnn.evaluation.geometry_maps.hit_summary`).
* What does the module map connect? Doublets and triplets per (volume, layer) pair
  (:func:`acts_gnn.evaluation.geometry_maps.module_map_connectivity`), and which detector
  modules the map never saw, with the event hits that fall on them
  (:func:`acts_gnn.evaluation.geometry_maps.module_coverage`).
* Do the configs cover the detector? Every sensitive module must be digitized (else ACTS's
  ``DigitizationAlgorithm`` silently drops its hits) and every module with measurements must be
  in the space-point selection (:func:`acts_gnn.evaluation.geometry_configs.check_coverage`).

This module puts the answers together (:class:`GeometryReport`, :func:`build_report`), writes
them (:func:`write_report`: report.txt and the plots) and runs the command.

Units: positions and radii in mm, angles in rad.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.evaluation.geometry_configs import CoverageReport, check_coverage
from acts_gnn.evaluation.geometry_maps import (
    Connectivity,
    ModuleCoverage,
    VolumeHits,
    concatenate_hits,
    hit_id_mismatches,
    hit_summary,
    layer_keys,
    module_coverage,
    module_map_connectivity,
)
from acts_gnn.evaluation.plots import plot_hit_maps, plot_layer_connectivity, plot_module_coverage
from acts_gnn.io.atomic import write_text


# -- the whole report ---------------------------------------------------------------------------
@dataclass
class GeometryReport:
    """Everything ``acts-gnn geometry`` finds; :meth:`text` is report.txt."""

    detector: str
    coverage: CoverageReport
    volume_names: Mapping[int, str] = field(default_factory=dict)
    events: int = 0
    input: str | None = None
    hits: list[VolumeHits] | None = None
    hits_on_unknown_modules: int = 0
    hit_id_mismatches: int = 0
    module_map: str | None = None
    module_map_repr: str = ""
    modules: ModuleCoverage | None = None
    connectivity: Connectivity | None = None
    plots: list[Path] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Everything that makes the command fail (exit code 1)."""
        out = [line for line in self.coverage.failure_message().splitlines() if line]
        if self.hits_on_unknown_modules:
            out.append(
                f"{self.hits_on_unknown_modules} event hit(s) lie on geometry ids that are not "
                f"sensitive modules of the {self.detector} detector"
            )
        if self.hit_id_mismatches:
            out.append(
                f"{self.hit_id_mismatches} hit(s) have volume_id/layer_id columns that disagree "
                "with their geometry_id"
            )
        if self.modules is not None and len(self.modules.foreign_ids):
            out.append(
                f"{len(self.modules.foreign_ids)} module(s) of the module map are not sensitive "
                f"modules of the {self.detector} detector"
            )
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def _name(self, volume: int) -> str:
        return self.volume_names.get(volume, "")

    def text(self) -> str:
        """The full report (report.txt)."""
        out = [f"geometry validation: {self.detector} detector", ""]
        out += ["== configuration coverage ==", *self.coverage.lines(), ""]
        if self.hits is not None:
            out.append(f"== hits: {self.events} event(s) from {self.input} ==")
            out.append(
                f"{'volume':>6} {'':<28} {'hits':>9} {'r min':>8} {'r max':>8} "
                f"{'z min':>9} {'z max':>9}  layers"
            )
            for v in self.hits:
                out.append(
                    f"{v.volume:>6} {self._name(v.volume):<28} {v.hits:>9} "
                    f"{v.r_range[0]:>8.1f} {v.r_range[1]:>8.1f} {v.z_range[0]:>9.1f} "
                    f"{v.z_range[1]:>9.1f}  {','.join(map(str, v.layers))}"
                )
            out.append("(r, z in mm)")
            out.append(
                f"hits on geometry ids that are not detector modules: {self.hits_on_unknown_modules}"
            )
            out.append(
                f"hits whose volume/layer columns disagree with geometry_id: {self.hit_id_mismatches}"
            )
            out.append("")
        if self.modules is not None and self.connectivity is not None:
            out.append(f"== module map {self.module_map}: {self.module_map_repr} ==")
            out.append("detector modules in no triplet of the map, per volume:")
            out += self.modules.lines()
            out.append("")
            out.append("layer pairs (volume:layer, first module along the track -> second):")
            out += self.connectivity.pair_lines()
            out.append("")
            out.append("layer triplets:")
            out += self.connectivity.triplet_lines()
            out.append("")
        if self.plots:
            out.append("== plots ==")
            out += [str(p) for p in self.plots]
            out.append("")
        out.append("RESULT: OK" if self.ok else "RESULT: FAILED")
        out += [f"  {p}" for p in self.problems]
        return "\n".join(out) + "\n"

    def summary(self) -> list[str]:
        """A few lines for the terminal."""
        c = self.coverage
        out = [
            f"{self.detector} detector: {c.n_modules} sensitive modules; digitization "
            f"{'OK' if not c.digi_uncovered else 'misses volume(s) ' + ', '.join(str(u.volume) for u in c.digi_uncovered)}; "
            f"space-point selection "
            f"{'OK' if not c.spacepoint_uncovered else 'misses volume(s) ' + ', '.join(str(u.volume) for u in c.spacepoint_uncovered)}"
        ]
        if self.hits is not None:
            n = sum(v.hits for v in self.hits)
            out.append(
                f"hits: {n} in {self.events} event(s), {len(self.hits)} volumes, "
                f"{sum(len(v.layers) for v in self.hits)} layers"
            )
        if self.modules is not None and self.connectivity is not None:
            hits = sum(v.hits for v in self.modules.volumes)
            on_missing = sum(v.hits_on_missing for v in self.modules.volumes)
            pairs = int(np.count_nonzero(self.connectivity.doublets))
            out.append(
                f"module map: {self.module_map_repr}; {pairs} connected layer pairs, "
                f"{len(self.connectivity.layer_triplets)} layer triplets; "
                f"{len(self.modules.missing_ids)} detector modules never seen"
                + (f" ({on_missing} of {hits} hits on them)" if hits else "")
            )
        return out


def build_report(
    module_ids: npt.ArrayLike,
    digi_config_file: str | Path,
    spacepoint_selection_file: str | Path,
    hits: Mapping[str, npt.NDArray[Any]] | None = None,
    module_map: Any = None,
    *,
    detector: str = "generic",
    volume_names: Mapping[int, str] | None = None,
    events: int = 0,
    input: str | Path | None = None,
    module_map_name: str | Path | None = None,
    acts_check: bool = False,
) -> GeometryReport:
    """Run every check on a detector's sensitive modules (geometry ids, uint64), its two
    configs, an optional hit table (:data:`~acts_gnn.evaluation.geometry_maps.HIT_MAP_COLUMNS`;
    mm) and an optional ModuleMap."""
    ids = np.unique(np.asarray(module_ids, dtype=np.uint64))
    hit_ids = None if hits is None else np.asarray(hits["geometry_id"], np.uint64)
    report = GeometryReport(
        detector=detector,
        coverage=check_coverage(
            ids, digi_config_file, spacepoint_selection_file, hit_ids, acts_check=acts_check
        ),
        volume_names=dict(volume_names or {}),
        events=events,
        input=None if input is None else str(input),
    )
    if hits is not None and hit_ids is not None:
        report.hits = hit_summary(hits)
        report.hits_on_unknown_modules = int((~np.isin(hit_ids, ids)).sum())
        report.hit_id_mismatches = hit_id_mismatches(hits)
    if module_map is not None:
        report.module_map = None if module_map_name is None else str(module_map_name)
        report.module_map_repr = repr(module_map)
        report.modules = module_coverage(ids, module_map, hit_ids)
        detector_layers = {(int(v), int(lay)) for v, lay in layer_keys(ids)}
        report.connectivity = module_map_connectivity(module_map, detector_layers)
    return report


# -- report.txt, plots and the whole run -------------------------------------------------------
def write_report(
    report: GeometryReport,
    output_dir: str | Path,
    hits: Mapping[str, npt.NDArray[Any]] | None = None,
    module_ids: npt.ArrayLike | None = None,
    module_centres: npt.ArrayLike | None = None,
    plots: bool = True,
) -> Path:
    """Write the plots (unless ``plots`` is False) and ``report.txt`` into ``output_dir``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if plots:
        if hits is not None and len(hits["x"]):
            report.plots += plot_hit_maps(hits, output_dir, report.volume_names)
        if report.connectivity is not None:
            report.plots.append(
                plot_layer_connectivity(report.connectivity, output_dir / "layer_connectivity.png")
            )
        if report.modules is not None and module_ids is not None and module_centres is not None:
            report.plots.append(
                plot_module_coverage(
                    module_ids,
                    module_centres,
                    report.modules.missing_ids,
                    output_dir / "module_coverage.png",
                )
            )
    path = output_dir / "report.txt"
    return write_text(path, report.text())


def run_geometry_validation(
    output_dir: str | Path,
    input_dir: str | Path | None = None,
    *,
    events: int | None = None,
    module_map_path: str | Path | None = None,
    digi_config_file: str | Path | None = None,
    spacepoint_selection_file: str | Path | None = None,
    plots: bool = True,
) -> GeometryReport:
    """What ``acts-gnn geometry`` does, on the generic detector; returns the report written.

    The configs default to the detector's own (``geometry/generic/``); ``events`` limits the
    prepared events read from ``input_dir``.
    """
    from acts_gnn.detector import GENERIC_VOLUMES, load_generic_detector

    detector = load_generic_detector()
    surfaces = detector.surfaces()
    digi = Path(digi_config_file or detector.digi_config_file)
    selection = Path(spacepoint_selection_file or detector.spacepoint_selection_file)
    hits, n_events = None, 0
    if input_dir is not None:
        from acts_gnn.io.event_store import PreparedDataset

        dataset = PreparedDataset(input_dir)
        if events:
            dataset = PreparedDataset(input_dir, dataset.event_ids[:events])
        hits, n_events = concatenate_hits(dataset)
    module_map = None
    if module_map_path is not None:
        from acts_gnn.graph.module_map.formats import load_module_map

        module_map = load_module_map(module_map_path)
    report = build_report(
        surfaces.geometry_ids,
        digi,
        selection,
        hits,
        module_map,
        detector=detector.name,
        volume_names={v: f"{a} {b}" for v, (a, b) in GENERIC_VOLUMES.items()},
        events=n_events,
        input=input_dir,
        module_map_name=module_map_path,
        acts_check=True,
    )
    write_report(report, output_dir, hits, surfaces.geometry_ids, surfaces.translations, plots)
    return report


# -- command line -------------------------------------------------------------------------------
def geometry_command(args: Any) -> int:
    """Run ``acts-gnn geometry`` (``args``: its options, :mod:`acts_gnn.cli.parser`): print the
    summary; 0 if every check passed, else 1."""
    report = run_geometry_validation(
        args.output,
        args.input,
        events=args.events,
        module_map_path=args.module_map,
        digi_config_file=args.digi_config,
        spacepoint_selection_file=args.spacepoint_selection,
        plots=args.plots,
    )
    for line in report.summary():
        print(line)
    print(f"report: {Path(args.output) / 'report.txt'}")
    if report.ok:
        print("geometry validation: OK")
        return 0
    print("geometry validation FAILED:\n  " + "\n  ".join(report.problems), file=sys.stderr)
    return 1


__all__ = [
    "GeometryReport",
    "build_report",
    "geometry_command",
    "run_geometry_validation",
    "write_report",
]
