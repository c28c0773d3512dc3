// Radius + max-k neighbour search over a cell list, on CPU.
//
// The points are binned into cells by Python (acts_gnn.graph.knn, the `grid` backend); every
// query is compared with the points of its own cell's neighbour cells. The distance is the
// exact one of acts_gnn.graph.knn.exact_dist2, bit for bit: float64, and per dimension in
// order one subtraction, one multiplication and one addition (this file is compiled without
// floating-point contraction, so no fused multiply-add changes a rounding). A pair is kept
// when its squared distance is <= r2 and the neighbour is not the query itself; of a query's
// pairs the k nearest by (squared distance, neighbour index) are kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace acts_gnn {

/// A cell list: the points of cell c are order[cellStart[c] .. cellStart[c] + cellCount[c]);
/// the cells to compare a query of cell c with are neighbourCells[c * nOffsets + o] (o <
/// nOffsets; -1 where that cell is empty).
struct CellList {
  const std::int64_t* order;
  const std::int64_t* cellStart;
  const std::int64_t* cellCount;
  const std::int64_t* neighbourCells;
  std::size_t nOffsets;
};

/// Directed pairs (query, neighbour, squared distance): each query's pairs together, in the
/// order of the queries given, each query's sorted by (squared distance, neighbour index) if
/// asked for (else in an unspecified order, the same set).
struct NeighbourPairs {
  std::vector<std::int64_t> query;
  std::vector<std::int64_t> neighbour;
  std::vector<double> dist2;
};

/// Neighbours of queries[i] (a row of `points` [nPoints, dim], row-major) within squared
/// distance r2 among the points of the neighbour cells of queryCell[i], at most k of them
/// (k <= 0: all), each query's sorted if `sortPairs`. Queries of one cell should be
/// consecutive (each change of cell gathers that cell's candidates again). Parallel over
/// contiguous slices of the queries with `nThreads` threads (<= 0: all cores); the result
/// does not depend on the thread count.
NeighbourPairs radiusNeighboursInCells(const double* points, std::size_t dim,
                                       const CellList& cells, const std::int64_t* queries,
                                       const std::int64_t* queryCell, std::size_t nQueries,
                                       double r2, std::int64_t k, bool sortPairs, int nThreads);

/// The unique undirected edges of the pairs (a[i], b[i]), i < n, of nodes below nNodes:
/// (min, max) of each pair, duplicates once, sorted by (min, max) (an LSD radix sort of
/// min * nNodes + max); written to `lo` and `hi`. Pairs must be in range (checked by the
/// caller) and nNodes^2 must fit in 64 bits.
void uniqueEdges(const std::int64_t* a, const std::int64_t* b, std::size_t n,
                 std::int64_t nNodes, std::vector<std::int64_t>& lo, std::vector<std::int64_t>& hi);

}  // namespace acts_gnn
