"""Type stubs of the C++ core `acts_gnn._core` (see cpp/bindings.cpp)."""

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
