"""Writing ROOT ``ULong_t`` (leaf type ``/g``, class ``TLeafG``) branches with uproot.

ModuleMapGraph declares its module-id branches as ``"Module1/g"`` and reads them with
``SetBranchAddress("Module1", &module1)`` into a ``uint64_t``. On Linux ``uint64_t`` is
``unsigned long``, ROOT's ``ULong_t``; ROOT compares that type with the branch's and refuses a
``ULong64_t`` (``/l``) branch with "The pointer type given "ULong_t" (14) does not correspond to
the type needed "ULong64_t" (17)". The reader then keeps its zero-initialised id for every entry
and sees one module, without an exception. uproot 5 writes every ``uint64`` array as ``/l``, so
an MMG file written by plain uproot is read wrongly by MMG, ACTS's ``ModuleMapCuda`` and Athena.

:func:`write_ulong_tree` writes a tree whose ``uint64`` branches are ``/g`` leaves: it maps the
big-endian ``uint64`` dtype to the letter ``g`` in uproot's writer table while the file is
written (both leaf types hold 8 bytes, stored the same way) and adds the ``TLeafG`` streamer
record, which uproot does not carry, so that uproot (and anything that reads the streamers)
can read the file back. The record is derived from uproot's ``TLeafL`` record: the class name,
its checksum and the two range members' type (``long``, code 4, as ROOT writes it, instead of
``Long64_t``, code 16), with the byte counts adjusted. ROOT's own TTree API reading such a file with MMG's
types is a test (``tests/graph/module_map/test_mmg_root_types.py``, skipped without the PyPI
``root`` package).

The patch of uproot's table is process-global while a file is written; do not write uproot
trees from other threads meanwhile.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import uproot
import uproot.models.TLeaf as _uproot_tleaf
import uproot.writing._cascade as _uproot_cascade
import uproot.writing._cascadetree as _uproot_cascadetree

#: ROOT's ``TLeafG::Class()->GetCheckSum()`` for class version 1 (ROOT 6).
TLEAFG_CHECKSUM = 0xECA71CB7
#: The ``TLeafL`` class checksum in uproot's record (ROOT 6).
_TLEAFL_CHECKSUM = 0xDE320862
_ROOT_CHUNK = 1 << 20  # entries per basket

_K_LONG64 = 16  # ROOT EDataType kLong64_t
_K_LONG = 4  # ROOT EDataType kLong_t


def _tleafl_record() -> bytes:
    """uproot's raw ``TStreamerInfo`` record of ``TLeafL`` version 1."""
    for entry in _uproot_tleaf.Model_TLeafL_v1.class_rawstreamers:
        if entry[-2] == "TLeafL":
            record: bytes = entry[1]
            return record
    raise RuntimeError("uproot no longer carries the TLeafL streamer record")  # pragma: no cover


def _with_count(raw: bytearray, at: int, delta: int) -> None:
    """Add ``delta`` to the ROOT byte count (``0x40000000 | n``) at offset ``at``."""
    (word,) = struct.unpack_from(">I", raw, at)
    if not word & 0x40000000:
        raise RuntimeError(f"no ROOT byte count at offset {at} of the TLeafL record")
    struct.pack_into(">I", raw, at, word + delta)


def tleafg_streamer_record() -> bytes:
    """The raw ``TStreamerInfo`` record of ``TLeafG`` version 1, derived from ``TLeafL``'s."""
    src = _tleafl_record()
    head = b"\x06TLeafL\x00" + struct.pack(">I", _TLEAFL_CHECKSUM)
    long64 = b"\x08Long64_t"
    long = b"\x04long"  # the type name ROOT itself writes for Long_t members
    delta = len(long) - len(long64)  # per member
    if src.count(head) != 1 or src.count(long64) != 2:
        raise RuntimeError("uproot's TLeafL streamer record has an unexpected layout")
    raw = bytearray(src.replace(head, b"\x06TLeafG\x00" + struct.pack(">I", TLEAFG_CHECKSUM)))
    # Byte counts enclosing everything: the TStreamerInfo object and its version block.
    _with_count(raw, 0, 2 * delta)
    info = raw.index(b"TStreamerInfo\x00") + len(b"TStreamerInfo\x00")
    _with_count(raw, info, 2 * delta)
    array = raw.index(b"TObjArray\x00") - 8
    _with_count(raw, array, 2 * delta)
    _with_count(raw, array + 8 + len(b"TObjArray\x00"), 2 * delta)
    # Each range member, a TStreamerBasicType: byte count and version of the object, of its
    # TStreamerElement base and of that base's TNamed, the TObject, then fName and fTitle
    # (TStrings, one length byte), fType, fSize, ..., fTypeName.
    for name in (b"fMinimum", b"fMaximum"):
        name_at = raw.index(bytes([len(name)]) + name)
        element = raw.rindex(b"TStreamerBasicType\x00", 0, name_at) + len(b"TStreamerBasicType\x00")
        for count_at in (element - 4 - len(b"TStreamerBasicType\x00") - 4, element, element + 6):
            _with_count(raw, count_at, delta)
        title_at = name_at + 1 + len(name)
        type_at = title_at + 1 + raw[title_at]
        (code,) = struct.unpack_from(">i", raw, type_at)
        if code != _K_LONG64:
            raise RuntimeError(f"{name.decode()} of the TLeafL record has type code {code}")
        struct.pack_into(">i", raw, type_at, _K_LONG)
        at = raw.index(long64, type_at)
        raw[at : at + len(long64)] = long
    return bytes(raw)


@contextmanager
def _uint64_as_ulong() -> Iterator[None]:
    """Within the block, uproot writes ``uint64`` branches as ``/g`` (``TLeafG``) leaves."""
    table = _uproot_cascadetree._dtype_to_char
    key = np.dtype(">u8")
    previous = table[key]
    table[key] = "g"
    try:
        yield
    finally:
        table[key] = previous


def write_ulong_tree(
    path: Path,
    name: str,
    title: str,
    columns: Mapping[str, np.ndarray],
    order: tuple[str, ...],
) -> None:
    """Write the file ``path`` holding one tree ``name`` of scalar branches ``order``.

    ``columns`` maps each branch to an array [n]; ``uint64`` arrays become ``/g`` (``ULong_t``)
    leaves, every other dtype uproot's usual leaf type."""
    record = tleafg_streamer_record()
    with _uint64_as_ulong(), uproot.recreate(path) as f:
        f.mktree(name, {b: columns[b].dtype for b in order}, title=title)
        cascading = f._file._cascading
        cascading.streamers.update_streamers(
            f._file.sink, [_uproot_cascade.RawStreamerInfo(None, record, "TLeafG", 1)]
        )
        n = len(columns[order[0]])
        for start in range(0, n, _ROOT_CHUNK):
            f[name].extend({b: columns[b][start : start + _ROOT_CHUNK] for b in order})
