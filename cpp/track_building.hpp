// Track building on scored graphs, on CPU: junction removal and the walkthrough.
//
// Graphs are directed (inner -> outer hit, as our graph builders produce them): edge e goes
// from src[e] to dst[e]; scores are the edge-classifier outputs (probabilities). Everything
// here is serial, O(N + E), keeps no global state (thread-safe) and is deterministic: where
// two edges have the same score, the one with the lower edge index wins.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace acts_gnn {

/// Junction removal (upstream ACTS `junctionRemovalCuda`, here on CPU): an edge survives iff it
/// is the best-scoring out-edge of its source AND the best-scoring in-edge of its target.
/// Writes keep[e] = 1 for surviving edges, 0 otherwise. Afterwards every node has at most one
/// in-edge and one out-edge. Unlike upstream, where a junction edge can only win with a score
/// above 0 (its running maximum starts at 0), the best edge wins whatever its score; ties go to
/// the lower edge index (upstream: whichever a GPU thread saw first).
void junctionRemoval(std::size_t nNodes, const std::int64_t* src, const std::int64_t* dst,
                     const double* scores, std::size_t nEdges, std::uint8_t* keep);

/// Per-node result of chain labelling: which chain a node is on and where.
struct Chains {
  std::vector<std::int64_t> label;     // [N] chain number, -1 for a node on no edge
  std::vector<std::int64_t> position;  // [N] index along the chain (graph order), -1: none
  std::vector<std::uint8_t> edgeUsed;  // [E] 1 for the edges that make up the chains
  std::int64_t nChains = 0;
};

/// Label the chains of a junction-free edge subset (edges with use[e] != 0, or all edges if
/// `use` is null; self loops are ignored). A chain starts at its node without an in-edge and
/// follows the out-edges; chains are numbered in order of their first node's index. A closed
/// loop (a directed cycle) starts at its lowest node index and is numbered after all open
/// chains. Throws std::invalid_argument if a node has two in-edges or two out-edges.
Chains chainLabels(std::size_t nNodes, const std::int64_t* src, const std::int64_t* dst,
                   std::size_t nEdges, const std::uint8_t* use);

/// The walkthrough: (1) junction removal on the high-score edges (score > cutHigh) gives
/// junction-free chains; (2) an edge with score > cutLow that is not on a chain is a
/// candidate continuation if its source has no out-edge and its target no in-edge on the
/// chains (it would join the end of one chain, or a lone hit, to the start of another); it is
/// added iff it is the only candidate of its source and the only candidate of its target
/// (unambiguous); (3) the resulting junction-free graph is labelled with `chainLabels`.
/// Self loops are ignored. Requires cutLow <= cutHigh.
Chains walkthrough(std::size_t nNodes, const std::int64_t* src, const std::int64_t* dst,
                   const double* scores, std::size_t nEdges, double cutHigh, double cutLow);

}  // namespace acts_gnn
