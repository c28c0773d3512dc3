"""Track building on torch tensors (CUDA or CPU): junction removal, chain labels, walkthrough.

The same algorithms as the C++ core (``acts_gnn._core.junction_removal``, ``chain_labels``,
``walkthrough``), written with scatter/gather tensor operations so that they run on a GPU.
They give identical output to the C++ core (tested on CPU). The stages in
:mod:`acts_gnn.chain.tracks` choose between the two.
"""

from __future__ import annotations

import math
from typing import Any

import torch


def check_edge_inputs(edge_index: Any, scores: Any | None) -> None:
    """Raise ValueError unless edge_index is [2, E] and scores (if given) is [E]."""
    shape = tuple(edge_index.shape)
    if len(shape) != 2 or shape[0] != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {shape}")
    if scores is not None and tuple(scores.shape) != (shape[1],):
        raise ValueError(f"scores must have shape [{shape[1]}], got {tuple(scores.shape)}")


def _best_edge(node: torch.Tensor, scores: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """For each edge: is it the best-scoring edge at ``node[e]`` (ties: lower edge index)?"""
    n_edges = node.shape[0]
    index = torch.arange(n_edges, device=node.device)
    best = torch.full((n_nodes,), -math.inf, dtype=scores.dtype, device=node.device)
    best = best.scatter_reduce(0, node, scores, "amax", include_self=True)
    tied = torch.where(scores == best[node], index, n_edges)
    first = torch.full((n_nodes,), n_edges, dtype=torch.int64, device=node.device)
    first = first.scatter_reduce(0, node, tied, "amin", include_self=True)
    return first[node] == index


def junction_removal_torch(
    n_nodes: int, edge_index: torch.Tensor, scores: torch.Tensor
) -> torch.Tensor:
    """Junction removal with torch scatter ops (any device): bool [E], same as the C++ core.

    An edge survives iff it is the best-scoring out-edge of its source (``scatter_reduce``
    amax over sources, then the lowest edge index among the maxima) and the best-scoring
    in-edge of its target.
    """
    check_edge_inputs(edge_index, scores)
    if torch.isnan(scores).any():
        raise ValueError("scores contain NaN")
    if edge_index.shape[1] == 0:
        return torch.zeros(0, dtype=torch.bool, device=edge_index.device)
    src, dst = edge_index[0], edge_index[1]
    return _best_edge(src, scores, n_nodes) & _best_edge(dst, scores, n_nodes)


def chain_labels_torch(n_nodes: int, edge_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Chains of a junction-free graph with pointer jumping (any device).

    Same result as :func:`acts_gnn._core.chain_labels`: (label int64 [N], position int64 [N]),
    -1 for nodes on no edge; open chains numbered by first node, closed loops after them.
    """
    device = edge_index.device
    src, dst = edge_index[0], edge_index[1]
    keep = src != dst
    src, dst = src[keep], dst[keep]
    if src.numel() and (
        torch.bincount(src, minlength=n_nodes).max() > 1
        or torch.bincount(dst, minlength=n_nodes).max() > 1
    ):
        raise ValueError("the edges are not junction-free: a node has two in- or out-edges")
    nodes = torch.arange(n_nodes, device=device)
    prev = torch.full((n_nodes,), -1, dtype=torch.int64, device=device)
    prev[dst] = src
    on_edge = torch.zeros(n_nodes, dtype=torch.bool, device=device)
    on_edge[src] = True
    on_edge[dst] = True
    steps = max(1, math.ceil(math.log2(max(n_nodes, 2)))) + 1
    # 1. Loops: after 2^steps >= N jumps a chain node has reached its head (no prev), a loop
    #    node has not; the running minimum over the jumps is the loop's lowest node.
    ancestor = torch.where(prev >= 0, prev, nodes)
    lowest = nodes.clone()
    for _ in range(steps):
        lowest = torch.minimum(lowest, lowest[ancestor])
        ancestor = ancestor[ancestor]
    in_loop = prev[ancestor] >= 0
    cut = in_loop & (lowest == nodes)
    prev = torch.where(cut, -1, prev)
    # 2. List ranking: distance to the head, now for open chains and cut loops alike.
    ancestor = torch.where(prev >= 0, prev, nodes)
    position = (prev >= 0).to(torch.int64)
    for _ in range(steps):
        position = position + position[ancestor]
        ancestor = ancestor[ancestor]
    key = ancestor + n_nodes * in_loop.to(torch.int64)
    roots = torch.unique(key[on_edge])  # sorted: open chains by head, then loops by lowest node
    label = torch.searchsorted(roots, key)
    label = torch.where(on_edge, label, -1)
    position = torch.where(on_edge, position, -1)
    return label, position


def walkthrough_torch(
    n_nodes: int,
    edge_index: torch.Tensor,
    scores: torch.Tensor,
    cut_high: float,
    cut_low: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The walkthrough with torch ops (any device); same output as the C++ core.

    Returns (label int64 [N], position int64 [N], edge_used bool [E]).
    """
    check_edge_inputs(edge_index, scores)
    if not cut_low <= cut_high:
        raise ValueError("walkthrough needs cut_low <= cut_high")
    if torch.isnan(scores).any():
        raise ValueError("scores contain NaN")
    src, dst = edge_index[0], edge_index[1]
    device = edge_index.device
    valid = src != dst
    high = torch.nonzero(valid & (scores > cut_high)).flatten()
    used = torch.zeros(src.shape[0], dtype=torch.bool, device=device)
    if high.numel():
        keep = junction_removal_torch(n_nodes, edge_index[:, high], scores[high])
        used[high[keep]] = True
    has_next = torch.zeros(n_nodes, dtype=torch.bool, device=device)
    has_prev = torch.zeros(n_nodes, dtype=torch.bool, device=device)
    has_next[src[used]] = True
    has_prev[dst[used]] = True
    candidate = valid & ~used & (scores > cut_low) & ~has_next[src] & ~has_prev[dst]
    n_out = torch.bincount(src[candidate], minlength=n_nodes)
    n_in = torch.bincount(dst[candidate], minlength=n_nodes)
    used |= candidate & (n_out[src] == 1) & (n_in[dst] == 1)
    label, position = chain_labels_torch(n_nodes, edge_index[:, used])
    return label, position, used


# -- candidates ----------------------------------------------------------------------------
