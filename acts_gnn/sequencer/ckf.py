"""The CKF reference chain's settings and its named operating points (ACTS units).

:class:`CkfSettings` holds every number of
:func:`~acts_gnn.sequencer.reconstruction.addCkfReference` (seeding, start parameters, CKF,
track selection, ambiguity resolution); :data:`CKF_PRESETS` names operating points, each
value of ``upstream`` with the acts-project/acts file it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import acts

u = acts.UnitConstants


@dataclass(frozen=True)
class CkfSettings:
    """The CKF reference chain's settings for the generic detector (ACTS units).

    Seeding (grid triplet seeder): ``max_seed_r``, ``delta_r``, ``collision_region``,
    ``z_range``, ``min_pt``, ``impact_max`` (|d0|), ``max_seeds_per_middle``,
    ``sigma_scattering``, ``rad_length_per_seed``, on the space points of
    ``seeding_selection`` (a JSON geometry list in the detector's folder; None: the
    detector's own, every pixel layer); start-parameter sigmas: q/p
    ``initial_sigma_qop`` [1/GeV] and, when set, ``initial_sigma_qop_pt`` (q/pT based);
    CKF: chi2 cuts ``chi2_measurement`` / ``chi2_outlier``, ``measurements_per_surface``,
    seed deduplication, stay on seed; track selection: pT > ``min_pt``, >=
    ``min_measurements`` and, where set, |eta| < ``max_abs_eta``, ``loc0`` range,
    ``max_holes``, ``max_outliers``; greedy ambiguity resolution with at most
    ``max_shared_hits`` shared hits (None: none). The defaults are the ``fast`` preset
    (:data:`CKF_PRESETS`, where each preset's provenance is).
    """

    min_pt: float = 0.5 * u.GeV
    max_seed_r: float = 200 * u.mm
    delta_r: tuple[float, float] = (1 * u.mm, 60 * u.mm)
    collision_region: tuple[float, float] = (-250 * u.mm, 250 * u.mm)
    z_range: tuple[float, float] = (-2000 * u.mm, 2000 * u.mm)
    impact_max: float = 3 * u.mm
    max_seeds_per_middle: int = 1
    sigma_scattering: float = 5.0
    rad_length_per_seed: float = 0.1
    chi2_measurement: float = 15.0
    chi2_outlier: float = 25.0
    measurements_per_surface: int = 10
    min_measurements: int = 7
    max_shared_hits: int | None = 3
    ambiguity_iterations: int = 100000
    seeding_selection: str | None = None
    initial_sigma_qop: float = 0.1 / u.GeV
    initial_sigma_qop_pt: float | None = None
    max_abs_eta: float | None = None
    loc0: tuple[float, float] | None = None
    max_holes: int | None = None
    max_outliers: int | None = None

    def start_covariance(self) -> dict[str, Any]:
        """The start covariance of the track-parameter estimate from seeds, as keyword
        arguments of ACTS's ``TrackParamsEstimationAlgorithm`` / ``addSeeding``: sigmas 1 mm,
        1 mm, 1 degree, 1 degree, ``initial_sigma_qop``, 1 ns; ``initial_sigma_qop_pt`` (None:
        ACTS's default) and 10 % of pT; no inflation."""
        return {
            "initialSigmas": [
                1 * u.mm,
                1 * u.mm,
                1 * u.degree,
                1 * u.degree,
                self.initial_sigma_qop,
                1 * u.ns,
            ],
            "initialSigmaQoverPt": self.initial_sigma_qop_pt,
            "initialSigmaPtRel": 0.1,
            "initialVarInflation": [1.0] * 6,
        }

    def track_selector(self, **overrides: Any) -> Any:
        """The CKF chain's ``acts.TrackSelector.Config`` (``overrides``: further or other
        ``TrackSelector.Config`` fields, e.g. ``absEtaMin``)."""
        cuts: dict[str, Any] = {"ptMin": self.min_pt, "minMeasurements": self.min_measurements}
        if self.max_abs_eta is not None:
            cuts["absEtaMax"] = self.max_abs_eta
        if self.loc0 is not None:
            cuts["loc0Min"], cuts["loc0Max"] = self.loc0
        if self.max_holes is not None:
            cuts["maxHoles"] = self.max_holes
        if self.max_outliers is not None:
            cuts["maxOutliers"] = self.max_outliers
        return acts.TrackSelector.Config(**{**cuts, **overrides})


#: Named CKF operating points (``acts-gnn compare --ckf-preset NAME ...``).
#: ``fast``: the seeding of ACTS's older generic-detector CKF example
#: (``Examples/Scripts/Python/ckf_tracks.py`` before its Delta r went to 300 mm: Delta r <= 60
#: mm) on every pixel layer, no |eta| / loc0 / holes / outliers cuts, greedy ambiguity
#: resolution (3 shared hits).
#: ``upstream``: ACTS's generic-detector CKF example as it is now, value by value (sources
#: in acts-project/acts, comments below).
#: ``tuned``: the best efficiency of a small scan at pile-up 200 (docs/results.md, "CKF
#: operating points"): ``fast`` with Delta r up to 300 mm and up to 5 seeds per middle
#: space point.
CKF_PRESETS: dict[str, CkfSettings] = {
    "fast": CkfSettings(),
    "upstream": CkfSettings(
        # Examples/Scripts/Python/ckf_tracks.py, SeedFinderConfigArg: r=(None, 200 mm),
        # deltaR=(1 mm, 300 mm), collisionRegion=(-250, 250) mm, z=(-2000, 2000) mm,
        # maxSeedsPerSpM=1, sigmaScattering=5, radLengthPerSeed=0.1, minPt=500 MeV,
        # impactMax=3 mm (SeedFinderOptionsArg bFieldInZ=2 T: the detector's field)
        max_seed_r=200 * u.mm,
        delta_r=(1 * u.mm, 300 * u.mm),
        collision_region=(-250 * u.mm, 250 * u.mm),
        z_range=(-2000 * u.mm, 2000 * u.mm),
        max_seeds_per_middle=1,
        sigma_scattering=5.0,
        rad_length_per_seed=0.1,
        impact_max=3 * u.mm,
        # ckf_tracks.py geometrySelection: Examples/Configs/generic-seeding-config.json (pixel
        # barrel layers 2, 4, 6, 8 of volume 8; the innermost four disks of each endcap:
        # layers 2-8 of volume 9, 14-8 of volume 7), here geometry/generic/
        seeding_selection="seeding-selection-upstream.json",
        # ckf_tracks.py addSeeding: initialSigmas q/p 0 e/GeV, initialSigmaQoverPt 0.1 e/GeV
        # (initialSigmaPtRel 0.1, the other sigmas 1 mm, 1 mm, 1 deg, 1 deg, 1 ns as here)
        initial_sigma_qop=0.0,
        initial_sigma_qop_pt=0.1 / u.GeV,
        # ckf_tracks.py CkfConfig: chi2CutOffMeasurement=15, chi2CutOffOutlier=25,
        # numMeasurementsCutOff=10, seedDeduplication and stayOnSeed (as _add_ckf)
        chi2_measurement=15.0,
        chi2_outlier=25.0,
        measurements_per_surface=10,
        # ckf_tracks.py TrackSelectorConfig: pt > 500 MeV, absEta < 3, loc0 in (-4, 4) mm,
        # nMeasurementsMin=7, maxHoles=2, maxOutliers=2
        min_pt=0.5 * u.GeV,
        max_abs_eta=3.0,
        loc0=(-4 * u.mm, 4 * u.mm),
        min_measurements=7,
        max_holes=2,
        max_outliers=2,
        # ckf_tracks.py has no ambiguity resolution; Examples/Scripts/Python/full_chain_odd.py:
        # AmbiguityResolutionConfig(maximumSharedHits=3, maximumIterations=1000000,
        # nMeasurementsMin=7)
        max_shared_hits=3,
        ambiguity_iterations=1000000,
    ),
    # docs/results.md, "CKF operating points": 0.9724 on 2 pile-up 200 events (fast 0.9517)
    "tuned": CkfSettings(delta_r=(1 * u.mm, 300 * u.mm), max_seeds_per_middle=5),
}


def ckf_preset(name: str) -> CkfSettings:
    """The :data:`CKF_PRESETS` entry ``name`` (ValueError naming the presets otherwise)."""
    if name not in CKF_PRESETS:
        raise ValueError(f"unknown CKF preset {name!r}: choose from {sorted(CKF_PRESETS)}")
    return CKF_PRESETS[name]


__all__ = ["CKF_PRESETS", "CkfSettings", "ckf_preset"]
