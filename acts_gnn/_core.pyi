"""Type stubs of the C++ core `acts_gnn._core` (see cpp/bindings.cpp)."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

DOUBLET_COLUMNS: tuple[str, str, str, str, str, str, str]
TRIPLET_COLUMNS: tuple[str, str]

def doublet_features(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    z: npt.ArrayLike,
    src: npt.ArrayLike,
    dst: npt.ArrayLike,
    n_threads: int = 1,
) -> npt.NDArray[np.float64]: ...
def edge_features(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    z: npt.ArrayLike,
    src: npt.ArrayLike,
    dst: npt.ArrayLike,
    n_threads: int = 1,
) -> npt.NDArray[np.float32]: ...
def triplet_features(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    z: npt.ArrayLike,
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    c: npt.ArrayLike,
    n_threads: int = 1,
) -> npt.NDArray[np.float64]: ...
def wrap_phi(dphi: float) -> float: ...
def radius_neighbours_in_cells(
    points: npt.ArrayLike,
    order: npt.ArrayLike,
    cell_start: npt.ArrayLike,
    cell_count: npt.ArrayLike,
    neighbour_cells: npt.ArrayLike,
    queries: npt.ArrayLike,
    query_cell: npt.ArrayLike,
    r2: float,
    k: int,
    sort_pairs: bool = True,
    n_threads: int = 1,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]: ...
def unique_edges(
    a: npt.ArrayLike, b: npt.ArrayLike, n_nodes: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def module_map_graph(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    z: npt.ArrayLike,
    hit_module: npt.ArrayLike,
    n_modules: int,
    doublet_modules: npt.ArrayLike,
    doublet_cuts: npt.ArrayLike,
    triplet_doublets: npt.ArrayLike,
    cuts12: npt.ArrayLike,
    cuts23: npt.ArrayLike,
    diff_dzdr: npt.ArrayLike,
    diff_dydx: npt.ArrayLike,
    n_threads: int = 1,
    check_map: bool = True,
) -> tuple[npt.NDArray[np.int64], int]: ...
def junction_removal(
    n_nodes: int, edge_index: npt.ArrayLike, scores: npt.ArrayLike
) -> npt.NDArray[np.bool_]: ...
def chain_labels(
    n_nodes: int, edge_index: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_], int]: ...
def walkthrough(
    n_nodes: int,
    edge_index: npt.ArrayLike,
    scores: npt.ArrayLike,
    cut_high: float,
    cut_low: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_], int]: ...
def helix_outliers(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    z: npt.ArrayLike,
    offsets: npt.ArrayLike,
    hits: npt.ArrayLike,
    tol_transverse: float,
    tol_longitudinal: float,
    max_removed: int,
    min_kept: int,
    n_threads: int = 1,
) -> npt.NDArray[np.bool_]: ...

#: module ids uint64 [U, 3], lo and hi float64 [U, 10], counts int64 [U]
TripletRowArrays = tuple[
    npt.NDArray[np.uint64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]
]

class TripletAccumulator:
    """Per module triplet: count and [min, max] of 10 quantities (order-independent)."""

    def __init__(self) -> None: ...
    def add_samples(self, module_ids: npt.ArrayLike, samples: npt.ArrayLike) -> None: ...
    def add_ranges(
        self,
        module_ids: npt.ArrayLike,
        lo: npt.ArrayLike,
        hi: npt.ArrayLike,
        counts: npt.ArrayLike,
    ) -> None: ...
    def __len__(self) -> int: ...
    @property
    def samples(self) -> int: ...
    def result(self) -> TripletRowArrays: ...

def merge_triplet_rows(
    module_ids_a: npt.ArrayLike,
    lo_a: npt.ArrayLike,
    hi_a: npt.ArrayLike,
    counts_a: npt.ArrayLike,
    module_ids_b: npt.ArrayLike,
    lo_b: npt.ArrayLike,
    hi_b: npt.ArrayLike,
    counts_b: npt.ArrayLike,
) -> TripletRowArrays: ...
def map_doublets(
    triplets: npt.ArrayLike, cuts12: npt.ArrayLike, cuts23: npt.ArrayLike
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float64]]: ...

#: one Linear of an MLP for InteractionNetworkKernel: (weight_t float32 [in, out], bias [out],
#: LayerNorm weight [out] or None, LayerNorm bias [out] or None, eps, activation name)
KernelLayer = tuple[
    npt.ArrayLike, npt.ArrayLike, npt.ArrayLike | None, npt.ArrayLike | None, float, str
]

class InteractionNetworkKernel:
    """An Interaction Network's weights for the fused float32 kernel (copied)."""

    def __init__(
        self,
        node_features: int,
        edge_features: int,
        hidden: int,
        use_sum: bool,
        use_mean: bool,
        node_encoder: Sequence[KernelLayer],
        edge_encoder: Sequence[KernelLayer],
        steps: Sequence[tuple[Sequence[KernelLayer], Sequence[KernelLayer]]],
        decoder: Sequence[KernelLayer],
    ) -> None: ...
    def logits(
        self,
        x: npt.ArrayLike,
        edge_index: npt.ArrayLike,
        edge_attr: npt.ArrayLike | None = None,
        bf16: bool = False,
        n_threads: int = 1,
    ) -> npt.NDArray[np.float32]: ...

class EdgeMlpKernel:
    """An edge filter's MLP on [x_src, x_dst, edge_attr] for the fused kernel (copied)."""

    def __init__(
        self, node_features: int, edge_features: int, layers: Sequence[KernelLayer]
    ) -> None: ...
    def logits(
        self,
        x: npt.ArrayLike,
        edge_index: npt.ArrayLike,
        edge_attr: npt.ArrayLike | None = None,
        bf16: bool = False,
        n_threads: int = 1,
    ) -> npt.NDArray[np.float32]: ...

def has_bf16_products() -> bool: ...
