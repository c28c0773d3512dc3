"""The prepared-event format: one folder, two Parquet files per event, and a ``dataset.json``.

::

    DIR/dataset.json                      how the folder was made, events and skips
    DIR/event000000042-hits.parquet       the hit table (columns: acts_gnn.event.HIT_COLUMNS)
    DIR/event000000042-particles.parquet  the particle table (acts_gnn.event.PARTICLE_COLUMNS)

Why Parquet: columnar and typed like our tables, compressed (about 3x smaller than the
uncompressed ROOT hits), read column-by-column in milliseconds by pyarrow, and readable from
any language (pandas, polars, Arrow C++, ROOT's RDataFrame); one file per event lets training
shuffle and stream events without reading a whole run. The truth graph is not stored: it is a
deterministic function of the tables and the selection, built in milliseconds at load time
(:func:`acts_gnn.graph.truth.truth_graph`), so one prepared folder serves every selection.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from acts_gnn.errors import InputDataError
from acts_gnn.event import HIT_COLUMNS, PARTICLE_COLUMNS, Event
from acts_gnn.io.atomic import atomic_path, write_json

DATASET_FILE = "dataset.json"
_EVENT_FILE = re.compile(r"event(\d{9,})-hits\.parquet$")  # ids >= 1e9 take 10 digits

log = logging.getLogger(__name__)


def event_stem(event_id: int) -> str:
    return f"event{event_id:09d}"


#: Parquet key-value metadata key of an event file's stamp (its ``COMPATIBLE_KEYS`` values).
STAMP_KEY = b"acts_gnn.stamp"


def _write_table(path: Path, columns: dict[str, np.ndarray], stamp: dict[str, Any] | None) -> None:
    table = pa.table({name: pa.array(values) for name, values in columns.items()})
    if stamp:
        table = table.replace_schema_metadata({STAMP_KEY: json.dumps(stamp, sort_keys=True)})
    with atomic_path(path) as partial:
        pq.write_table(table, partial, compression="zstd")


def write_event(directory: str | Path, event: Event, stamp: dict[str, Any] | None = None) -> None:
    """Write one event's tables (atomically: temporary name, then rename).

    ``stamp``: how the event was made (``detector``, ``digitization_config_sha256``: the
    :data:`COMPATIBLE_KEYS`), stored in each file's Parquet metadata and checked on reading
    against the folder's ``dataset.json`` (:class:`PreparedDataset`).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = event_stem(event.event_id)
    _write_table(directory / f"{stem}-particles.parquet", event.particles, stamp)
    _write_table(directory / f"{stem}-hits.parquet", event.hits, stamp)


def _read_table(
    path: Path, schema: dict[str, type], expected: dict[str, Any] | None, event_id: int
) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise InputDataError("prepared event file does not exist", file=path)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as err:
        raise InputDataError(
            f"unreadable Parquet file (truncated or corrupted?): {err}", file=path, event=event_id
        ) from err
    missing = [c for c in schema if c not in table.column_names]
    if missing:
        raise InputDataError(f"missing columns {missing}", file=path, field=missing[0])
    raw = (table.schema.metadata or {}).get(STAMP_KEY)
    if expected and raw is not None:
        stamp = json.loads(raw)
        for key, value in expected.items():
            if key in stamp and stamp[key] != value:
                raise InputDataError(
                    f"event made with {key} {stamp[key]!r}, but {DATASET_FILE} of its folder "
                    f"says {value!r} (an event of another run copied in?)",
                    file=path,
                    event=event_id,
                    field=key,
                )
    return {c: table.column(c).to_numpy().astype(t, copy=False) for c, t in schema.items()}


def read_event(
    directory: str | Path, event_id: int, expected: dict[str, Any] | None = None
) -> Event:
    """Read one prepared event; ``expected``: :data:`COMPATIBLE_KEYS` values its files' stamp
    must have (where it has them)."""
    directory = Path(directory)
    stem = event_stem(event_id)
    return Event(
        event_id=event_id,
        hits=_read_table(directory / f"{stem}-hits.parquet", HIT_COLUMNS, expected, event_id),
        particles=_read_table(
            directory / f"{stem}-particles.parquet", PARTICLE_COLUMNS, expected, event_id
        ),
    )


def event_files(directory: str | Path) -> list[int]:
    """Event ids that have a hit file in a folder, sorted (whether dataset.json lists them or
    not: for writers checking what a folder holds; readers use :func:`list_events`)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputDataError("prepared-event folder does not exist", file=directory)
    ids = []
    for path in directory.iterdir():
        match = _EVENT_FILE.search(path.name)
        if match:
            ids.append(int(match.group(1)))
    return sorted(ids)


def _describe_ids(ids: list[int]) -> str:
    shown = ", ".join(map(str, ids[:5]))
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > 5 else "")


def list_events(directory: str | Path) -> list[int]:
    """The events of a prepared folder: exactly those its ``dataset.json`` lists, sorted.

    A folder without ``dataset.json`` (an interrupted ``acts-gnn prepare``, or not a prepared
    folder) raises :class:`InputDataError` saying how many event files it holds; a listed
    event without its files raises naming the file; event files the list does not name
    (another run's) are ignored with a warning that counts and names them.
    """
    directory = Path(directory)
    on_disk = event_files(directory)
    if not (directory / DATASET_FILE).is_file():
        what = (
            f"{len(on_disk)} event file(s) (ids {_describe_ids(on_disk)}) but no "
            f"{DATASET_FILE}: an interrupted `acts-gnn prepare`? Run it again"
            if on_disk
            else f"no {DATASET_FILE}: not a prepared-event folder"
        )
        raise InputDataError(what, file=directory / DATASET_FILE)
    info = read_dataset_info(directory)
    listed = info.get("events")
    if not isinstance(listed, list) or not all(isinstance(e, int) for e in listed):
        raise InputDataError("no list of event ids", file=directory / DATASET_FILE, field="events")
    present = set(on_disk)
    for event_id in sorted(listed):
        for kind in ("hits", "particles"):
            path = directory / f"{event_stem(event_id)}-{kind}.parquet"
            if not path.exists():
                raise InputDataError(
                    f"{DATASET_FILE} lists event {event_id} but its file is missing",
                    file=path,
                    event=event_id,
                )
    foreign = sorted(present - set(listed))
    if foreign:
        log.warning(
            "%s: %d event file(s) not listed in %s are ignored (another run's?): ids %s",
            directory,
            len(foreign),
            DATASET_FILE,
            _describe_ids(foreign),
        )
    return sorted(listed)


def write_dataset_info(directory: str | Path, info: dict[str, Any]) -> None:
    write_json(Path(directory) / DATASET_FILE, info, sort_keys=True)


def read_dataset_info(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / DATASET_FILE
    if not path.is_file():
        raise InputDataError("no dataset.json: not a prepared-event folder", file=path)
    try:
        info = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputDataError(f"unreadable {DATASET_FILE}: {err}", file=path) from err
    if not isinstance(info, dict):
        raise InputDataError(f"{DATASET_FILE} is not a JSON object", file=path)
    return info


class PreparedDataset:
    """A prepared folder as a sequence of events (``len``, indexing, iteration).

    Without ``events``: exactly the events ``dataset.json`` lists (:func:`list_events`).
    """

    def __init__(self, directory: str | Path, events: list[int] | None = None) -> None:
        self.directory = Path(directory)
        self.event_ids = events if events is not None else list_events(self.directory)
        if not self.event_ids:
            raise InputDataError("no prepared events in folder", file=self.directory)
        info = (
            read_dataset_info(self.directory) if (self.directory / DATASET_FILE).is_file() else {}
        )
        #: what every event's stamp must say (from dataset.json)
        self.expected = {k: info[k] for k in COMPATIBLE_KEYS if k in info}

    def __len__(self) -> int:
        return len(self.event_ids)

    def __getitem__(self, index: int) -> Event:
        return read_event(self.directory, self.event_ids[index], self.expected)

    def __iter__(self) -> Any:
        for event_id in self.event_ids:
            yield read_event(self.directory, event_id, self.expected)


#: ``dataset.json`` keys that must agree between folders merged into one.
COMPATIBLE_KEYS = ("detector", "digitization_config_sha256")


def merge_prepared(output: str | Path, inputs: list[str | Path]) -> list[int]:
    """One prepared folder from several: events are linked (symlinks, relative), not copied,
    and renumbered consecutively in input order so ids never collide; ``dataset.json`` lists
    each input and its id mapping. Folders made for different detectors or digitization
    configs (:data:`COMPATIBLE_KEYS` of their ``dataset.json``) are refused. Returns the new
    event ids."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    if event_files(output) or (output / DATASET_FILE).exists():
        raise InputDataError("merge output folder already holds events", file=output)
    infos = [(Path(source), read_dataset_info(source)) for source in inputs]
    common: dict[str, Any] = {}
    for source, info in infos:
        for key in COMPATIBLE_KEYS:
            if key not in info:
                continue
            first = common.setdefault(key, (source, info[key]))
            if first[1] != info[key]:
                raise InputDataError(
                    f"cannot merge: {source} has {key} {info[key]!r}, {first[0]} has {first[1]!r}",
                    file=source / DATASET_FILE,
                    field=key,
                )
    new_id = 0
    sources = []
    for source, _ in infos:
        mapping = {}
        for event_id in list_events(source):
            for kind in ("hits", "particles"):
                target = source / f"{event_stem(event_id)}-{kind}.parquet"
                link = output / f"{event_stem(new_id)}-{kind}.parquet"
                link.symlink_to(os.path.relpath(target.resolve(), output.resolve()))
            mapping[str(new_id)] = event_id
            new_id += 1
        sources.append({"input": str(source.resolve()), "events": mapping})
    merged: dict[str, Any] = {key: value for key, (_, value) in common.items()}
    merged.update({"merged_from": sources, "events": list(range(new_id))})
    write_dataset_info(output, merged)
    return list(range(new_id))
