"""The torch module-map graph builder (``torch_builder.py``): the same edges in the same order
as the C++ builder, on CPU and (marked ``gpu``) on CUDA.
"""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.graph.module_map.builder import ModuleMapBuilder
from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
from acts_gnn.graph.module_map.map import ModuleMap
from acts_gnn.graph.truth import TruthSelection
from tests.graph.module_map.synthetic import (
    scaled_map,
    synthetic_event,
    synthetic_map,
    synthetic_training_triplets,
    widened_map,
)


def _compare_torch(mm: ModuleMap, positions, modules, device: str, max_pairs: int = 1 << 24):
    from acts_gnn.graph.module_map.torch_builder import TorchModuleMapGraphBuilder

    cpp = ModuleMapGraphBuilder(mm)(positions, modules)
    edge_index, doublet_edges = TorchModuleMapGraphBuilder(mm, device, max_pairs=max_pairs)(
        positions, modules
    )
    assert edge_index.device.type == device
    np.testing.assert_array_equal(edge_index.cpu().numpy(), cpp.edge_index)
    assert doublet_edges == cpp.doublet_edges
    return cpp


def _torch_cases(device: str) -> None:
    mm = synthetic_map()
    for seed in (1, 2):
        positions, modules = synthetic_event(seed)
        graph = _compare_torch(mm, positions, modules, device)
        assert graph.edge_index.shape[1] > 0
        _compare_torch(mm, positions, modules, device, max_pairs=50)
    _, _, positions, modules = synthetic_training_triplets()
    _compare_torch(mm, positions, modules, device, max_pairs=1000)
    _compare_torch(scaled_map(mm, 0.3), positions, modules, device)
    _compare_torch(mm, np.zeros((0, 3)), np.zeros(0, dtype=np.uint64), device)
    _compare_torch(ModuleMapBuilder().build(), positions, modules, device)


def test_torch_cpu_equals_cpp_synthetic() -> None:
    pytest.importorskip("torch")
    _torch_cases("cpu")


@pytest.mark.acts
def test_torch_cpu_equals_cpp_tiny_sample(tiny_events, tiny_map, tiny_map_symmetric) -> None:
    pytest.importorskip("torch")
    for e in tiny_events:
        args = (e.positions(), e.hits["geometry_id"], "cpu")
        _compare_torch(tiny_map, *args)
        _compare_torch(widened_map(tiny_map), *args, max_pairs=1000)
        _compare_torch(tiny_map_symmetric, *args)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="needs torch with a CUDA device")
def test_torch_cuda_equals_cpp(prepared_sample) -> None:
    _torch_cases("cuda")
    from acts_gnn.graph.module_map.build import build_module_map
    from acts_gnn.io.event_store import PreparedDataset

    events = list(PreparedDataset(prepared_sample.directory))
    mm = build_module_map(events[:1], TruthSelection(min_hits=3))
    for e in events:
        args = (e.positions(), e.hits["geometry_id"], "cuda")
        _compare_torch(mm, *args)
        _compare_torch(widened_map(mm), *args, max_pairs=1000)
