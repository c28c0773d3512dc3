"""The ModuleMapGraph ROOT pair read back the way ModuleMapGraph reads it: ROOT's own TTree API
with MMG's branch types (``uint64_t`` ids, ``unsigned int`` occurrence, ``float`` cuts), and by
plain uproot.

The ROOT half needs the PyPI ``root`` package (``pip install "acts-gnn[root]"``) and is skipped
without it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import uproot

from acts_gnn.graph.module_map.map import ModuleMap
from acts_gnn.graph.module_map.mmg_root import (
    MMG_DOUBLET_BRANCHES,
    MMG_DOUBLET_TREE,
    MMG_TRIPLET_BRANCHES,
    MMG_TRIPLET_TREE,
    write_mmg_root,
)
from acts_gnn.graph.module_map.root_ulong import TLEAFG_CHECKSUM, write_ulong_tree
from tests.graph.module_map.random_maps import random_module_map

# A reader with ModuleMapGraph's declarations (module_map_triplet<float>::read_TTree): ids into
# uint64_t, Occurence into unsigned int, the cuts into float. It returns how many
# SetBranchAddress calls ROOT refused (negative status) and the values of every entry.
_MMG_READER = r"""
#include <cstdint>
#include <string>
#include <vector>
#include "TFile.h"
#include "TTree.h"
int acts_gnn_mmg_read(const char* path, const char* tree_name, int n_ids, bool occurrence,
                      const std::vector<std::string>& cuts, std::vector<uint64_t>& ids,
                      std::vector<unsigned int>& occ, std::vector<float>& values) {
  TFile* file = TFile::Open(path, "READ");
  TTree* tree = (TTree*)file->Get(tree_name);
  uint64_t module[3] = {0, 0, 0};
  unsigned int count = 0;
  std::vector<float> cut(cuts.size());
  int refused = 0;
  const char* names[3] = {"Module1", "Module2", "Module3"};
  for (int k = 0; k < n_ids; ++k) refused += tree->SetBranchAddress(names[k], &module[k]) < 0;
  if (occurrence) refused += tree->SetBranchAddress("Occurence", &count) < 0;
  for (size_t k = 0; k < cuts.size(); ++k)
    refused += tree->SetBranchAddress(cuts[k].c_str(), &cut[k]) < 0;
  for (Long64_t i = 0; i < tree->GetEntries(); ++i) {
    tree->GetEntry(i);
    ids.insert(ids.end(), module, module + n_ids);
    occ.push_back(count);
    values.insert(values.end(), cut.begin(), cut.end());
  }
  file->Close();
  return refused;
}
"""


@pytest.fixture(scope="module")
def root():  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the PyPI build warns that it is an alpha
        root = pytest.importorskip("ROOT", reason="the PyPI 'root' package is not installed")
    if not hasattr(root, "acts_gnn_mmg_read"):
        assert root.gInterpreter.Declare(_MMG_READER)
    return root


def _read_like_mmg(root, path: Path, tree: str, branches: tuple[str, ...], n_ids: int):  # type: ignore[no-untyped-def]
    occurrence = "Occurence" in branches
    cuts = root.std.vector["std::string"]()
    for name in branches[n_ids + int(occurrence) :]:
        cuts.push_back(name)
    ids = root.std.vector["uint64_t"]()
    occ = root.std.vector["unsigned int"]()
    values = root.std.vector["float"]()
    refused = root.acts_gnn_mmg_read(str(path), tree, n_ids, occurrence, cuts, ids, occ, values)
    return (
        int(refused),
        np.array(list(ids), dtype=np.uint64).reshape(-1, n_ids),
        np.array(list(occ), dtype=np.int64),
        np.array(list(values), dtype=np.float32).reshape(-1, max(len(cuts), 1)),
    )


def _big_id_map() -> ModuleMap:
    """A float32-valued map whose ids use the top bits (ACTS geometry ids do)."""
    mm = random_module_map(float32_values=True)
    mm.modules = np.sort(mm.modules | np.uint64(0xF000_0000_0000_0000))
    return mm


def test_root_reads_mmg_pair_with_mmg_types(root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mm = _big_id_map()
    paths = write_mmg_root(mm, tmp_path / "mm")

    refused, ids, occ, cuts = _read_like_mmg(
        root, paths.triplets, MMG_TRIPLET_TREE, MMG_TRIPLET_BRANCHES, 3
    )
    assert refused == 0
    assert np.array_equal(ids, mm.modules[mm.triplets])
    assert len(np.unique(ids)) == mm.n_modules  # the silent failure saw one module
    assert np.array_equal(occ, mm.occurrence)
    expected = uproot.open(paths.triplets)[MMG_TRIPLET_TREE].arrays(
        list(MMG_TRIPLET_BRANCHES[4:]), library="np"
    )
    for k, name in enumerate(MMG_TRIPLET_BRANCHES[4:]):
        assert np.array_equal(cuts[:, k], expected[name]), name

    refused, ids, _, cuts = _read_like_mmg(
        root, paths.doublets, MMG_DOUBLET_TREE, MMG_DOUBLET_BRANCHES, 2
    )
    assert refused == 0
    assert np.array_equal(ids, mm.modules[mm.doublets])
    assert np.array_equal(cuts[:, 0], mm.doublet_cuts[:, 0, 0].astype(np.float32))  # z0min_12


def test_root_refuses_ulong64_ids_the_trap_this_writer_avoids(root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Plain uproot writes uint64 as ULong64_t (/l): MMG's uint64_t reader is refused by ROOT
    and keeps reading zeros. This is what the /g leaves of write_mmg_root prevent."""
    ids = np.array([3, 2**60 + 1, 2**63 + 7], dtype=np.uint64)
    path = tmp_path / "plain.root"
    with uproot.recreate(path) as f:
        f.mktree("T", {"Module1": np.uint64, "Module2": np.uint64})
        f["T"].extend({"Module1": ids, "Module2": ids})
    refused, got, _, _ = _read_like_mmg(root, path, "T", ("Module1", "Module2"), 2)
    assert refused == 2
    assert not np.array_equal(got[:, 0], ids)


def test_ulong_streamer_record_matches_root(root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The TLeafG record we write parses like the one ROOT writes for a /g branch."""
    import array

    ours = tmp_path / "ours.root"
    write_ulong_tree(ours, "T", "t", {"Module1": np.array([7], dtype=np.uint64)}, ("Module1",))
    theirs = tmp_path / "theirs.root"
    f = root.TFile(str(theirs), "RECREATE")
    tree = root.TTree("T", "t")
    value = array.array("L", [7])
    tree.Branch("Module1", value, "Module1/g")
    tree.Fill()
    tree.Write()
    f.Close()

    def record(path: Path) -> tuple:
        info = uproot.open(path).file.streamers["TLeafG"][1]
        return (
            info.member("fCheckSum"),
            info.member("fClassVersion"),
            [
                (e.member("fName"), e.member("fType"), e.member("fTypeName"), e.member("fSize"))
                for e in info.elements
            ],
        )

    assert record(ours) == record(theirs)
    assert record(ours)[0] == TLEAFG_CHECKSUM == root.TLeafG.Class().GetCheckSum()


def test_uproot_reads_mmg_ids_as_ulong_leaves(tmp_path: Path) -> None:
    """Without ROOT: the id leaves are /g (TLeafG, unsigned) and plain uproot reads them."""
    mm = _big_id_map()
    paths = write_mmg_root(mm, tmp_path / "mm")
    with uproot.open(paths.triplets) as f:
        tree = f[MMG_TRIPLET_TREE]
        for name in ("Module1", "Module2", "Module3"):
            assert tree[name].title == f"{name}/g"
            leaf = tree[name].member("fLeaves")[0]
            assert leaf.classname == "TLeafG"
            assert leaf.member("fIsUnsigned")
        assert tree["Occurence"].title == "Occurence/i"
        assert tree["z0min_12"].title == "z0min_12/F"
        got = np.stack([tree[f"Module{k}"].array(library="np") for k in (1, 2, 3)], axis=1)
        assert got.dtype == np.uint64
        assert np.array_equal(got, mm.modules[mm.triplets])
    with uproot.open(paths.doublets) as f:
        got = f[MMG_DOUBLET_TREE]["Module2"].array(library="np")
        assert np.array_equal(got, mm.modules[mm.doublets[:, 1]])
