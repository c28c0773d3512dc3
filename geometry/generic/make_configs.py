#!/usr/bin/env python3
"""Write the digitization, space-point-selection and seeding-selection configs of the generic (ITk-like) detector.

Run from this folder: ``python make_configs.py``. The JSON files next to it are the output of
this script; change the numbers here, rerun, and commit both. The choices are explained in
README.md in this folder.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: volume id -> (name, sigma_loc0 [mm], sigma_loc1 [mm]); loc1 runs along the strip.
VOLUMES: dict[int, tuple[str, float, float]] = {
    7: ("pixel negative endcap", 0.015, 0.015),
    8: ("pixel barrel", 0.015, 0.015),
    9: ("pixel positive endcap", 0.015, 0.015),
    12: ("short-strip negative endcap", 0.025, 0.35),
    13: ("short-strip barrel", 0.025, 0.35),
    14: ("short-strip positive endcap", 0.025, 0.35),
    16: ("long-strip negative endcap", 0.035, 1.0),
    17: ("long-strip barrel", 0.035, 1.0),
    18: ("long-strip positive endcap", 0.035, 1.0),
}


def gaussian(index: int, sigma: float) -> dict[str, object]:
    return {"index": index, "mean": 0.0, "stddev": sigma, "type": "Gauss"}


def digitization_config() -> dict[str, object]:
    """ACTS hierarchy map of smearing digitization configs, one entry per volume."""
    return {
        "acts-geometry-hierarchy-map": {
            "format-version": 0,
            "value-identifier": "digitization-configuration",
        },
        "entries": [
            {"volume": vol, "value": {"smearing": [gaussian(0, s0), gaussian(1, s1)]}}
            for vol, (_, s0, s1) in sorted(VOLUMES.items())
        ],
    }


def spacepoint_selection() -> list[dict[str, int]]:
    """Every sensitive volume makes space points (all measurements here are 2D)."""
    return [{"volume": vol} for vol in sorted(VOLUMES)]


def seeding_selection() -> list[dict[str, int]]:
    """The CKF reference seeds from pixel space points only (volumes 7, 8, 9), as ACTS's
    own generic-detector examples do."""
    return [{"volume": vol} for vol in sorted(VOLUMES) if VOLUMES[vol][0].startswith("pixel")]


def main() -> None:
    (HERE / "digi-smearing.json").write_text(json.dumps(digitization_config(), indent=2) + "\n")
    (HERE / "spacepoint-selection.json").write_text(
        json.dumps(spacepoint_selection(), indent=2) + "\n"
    )
    (HERE / "seeding-selection.json").write_text(json.dumps(seeding_selection(), indent=2) + "\n")


if __name__ == "__main__":
    main()
