"""``acts-gnn simulate`` on a Dask cluster: event ranges simulated apart, one ROOT pair out.

Each task runs :func:`acts_gnn.simulation.simulate` on its range (``first_event``: the
generator draws from ``event_rng(seed, event)`` and Fatras from ACTS's per-event stream of
(seed, event number), so a chunk's events are those of the serial run) into its own folder
under the chunk state; the client then copies the chunks' events, in order, into one
``particles.root`` / ``hits.root`` with the serial run's metadata (``simulation.json``), so
the files hold the same branch contents as a serial run's.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from acts_gnn.distributed.executor import ChunkState, ParallelOptions, Ticker, run_chunks
from acts_gnn.io.atomic import write_json
from acts_gnn.io.root_writer import METADATA_KEY, SimulationRootWriter
from acts_gnn.io.schemas import HIT_TREE, PARTICLE_TREE
from acts_gnn.simulation.fatras import RUN_INFO_FILE, EventSource, SimulationResult, simulate
from acts_gnn.simulation.hepmc import HepMC3Input


def _simulate_chunk(
    state: ChunkState, generator: EventSource, seed: int, start: int, stop: int, ticker: Ticker
) -> SimulationResult:
    """One task: events ``start`` .. ``stop - 1`` into the chunk's own folder."""
    result = simulate(
        state.chunk_folder(start, stop),
        stop - start,
        generator,
        seed=seed,
        progress=False,
        first_event=start,
        on_event=ticker.update,
    )
    return result


def _chunk_events(result: SimulationResult) -> Any:
    """Yield (event id, particle columns, hit columns) of a chunk's files, in event order."""
    particles = uproot.open(result.particles_file)[PARTICLE_TREE].arrays(library="np")
    hits = uproot.open(result.hits_file)[HIT_TREE].arrays(library="np")
    hit_events = hits["event_id"]
    for k, event_id in enumerate(particles["event_id"]):
        rows = hit_events == event_id
        yield (
            int(event_id),
            {name: values[k] for name, values in particles.items() if name != "event_id"},
            {name: values[rows] for name, values in hits.items() if name != "event_id"},
        )


def _chunk_metadata(result: SimulationResult) -> dict[str, Any]:
    with uproot.open(result.particles_file) as f:
        return dict(json.loads(str(f[METADATA_KEY])))


def simulate_parallel(
    output_dir: str | Path,
    events: int,
    generator: EventSource,
    options: ParallelOptions,
    seed: int = 42,
    progress: bool = True,
) -> SimulationResult:
    """:func:`acts_gnn.simulation.simulate` of ``events`` events on the cluster of
    ``options``; the same files (branch contents, metadata) as the serial run. An interrupted
    run resumes from its finished chunks. HepMC3 input (read in file order) is not split."""
    if isinstance(generator, HepMC3Input):
        raise ValueError(
            "HepMC3 input is read in order from its first event: run it without "
            "--workers / --scheduler"
        )
    if events <= 0:
        raise ValueError(f"events must be > 0, got {events}")
    output_dir = Path(output_dir)
    state = ChunkState.under(
        output_dir, "simulate", {"events": events, "seed": seed, "generator": generator.to_dict()}
    )
    results = run_chunks(
        partial(_simulate_chunk, state, generator, seed),
        events,
        options,
        desc="simulate",
        state=state,
        progress=progress,
    )
    metadata = _chunk_metadata(results[0])
    per_event: dict[str, Any] = {}
    for result in results:
        per_event.update(_chunk_metadata(result).get("per_event", {}))
    metadata["events"] = events
    if per_event:
        metadata["per_event"] = per_event
    writer = SimulationRootWriter(output_dir, metadata)
    merged = SimulationResult(output_dir / "particles.root", output_dir / "hits.root", events)
    try:
        for result in results:
            for event_id, particles, hits in _chunk_events(result):
                writer.write_event(event_id, particles, hits)
            merged.particles_per_event += result.particles_per_event
            merged.hits_per_event += result.hits_per_event
            merged.seconds_per_event += result.seconds_per_event
    except BaseException:
        writer.abort()
        raise
    merged.particles_file, merged.hits_file = writer.close()
    write_json(output_dir / RUN_INFO_FILE, metadata, sort_keys=True)
    state.remove()
    return merged


def check_simulation_equal(a: str | Path, b: str | Path) -> list[str]:
    """The branches (``tree.branch``) whose contents differ between two simulation folders,
    and ``metadata`` when the run settings do; empty when the files hold the same events."""
    differ = []
    for name, tree in (("particles.root", PARTICLE_TREE), ("hits.root", HIT_TREE)):
        with uproot.open(Path(a) / name) as fa, uproot.open(Path(b) / name) as fb:
            if str(fa[METADATA_KEY]) != str(fb[METADATA_KEY]):
                differ.append(f"{name}: metadata")
            xa, xb = fa[tree].arrays(library="np"), fb[tree].arrays(library="np")
            for branch in xa:
                va, vb = xa[branch], xb.get(branch)
                same = vb is not None and len(va) == len(vb)
                if same and va.dtype == object:
                    same = all(np.array_equal(p, q) for p, q in zip(va, vb, strict=True))
                elif same:
                    same = np.array_equal(va, vb)
                if not same:
                    differ.append(f"{tree}.{branch}")
    return differ


__all__ = ["check_simulation_equal", "simulate_parallel"]
