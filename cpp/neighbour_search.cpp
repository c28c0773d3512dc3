#include "neighbour_search.hpp"

#include <algorithm>
#include <utility>

#include "parallel_for.hpp"

namespace acts_gnn {

namespace {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ACTS_GNN_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define ACTS_GNN_VECTOR_CLONES
#endif

/// acc[j] = sum over d of (q[d] - coords[d * stride + j])^2 for j < m, the sum taken in the
/// order of d from 0.0 (the exact distance: no reassociation, no contraction; vectorised
/// across j only).
ACTS_GNN_VECTOR_CLONES
void squaredDistances(const double* q, const double* coords, std::size_t dim, std::size_t stride,
                      std::size_t m, double* acc) {
  for (std::size_t j = 0; j < m; ++j) {
    acc[j] = 0.0;
  }
  for (std::size_t d = 0; d < dim; ++d) {
    const double qd = q[d];
    const double* column = coords + d * stride;
    for (std::size_t j = 0; j < m; ++j) {
      const double diff = qd - column[j];
      acc[j] = acc[j] + diff * diff;
    }
  }
}

/// Whether any of acc[0 .. m) is <= r2 (branch-free, vectorised).
ACTS_GNN_VECTOR_CLONES
bool anyWithin(const double* acc, std::size_t m, double r2) {
  std::size_t within = 0;
  for (std::size_t j = 0; j < m; ++j) {
    within += acc[j] <= r2 ? 1 : 0;
  }
  return within != 0;
}

/// Candidates per tile: a tile's coordinates (dim x kTile doubles) stay in L1 while every query
/// of the cell is compared with them.
constexpr std::size_t kTile = 256;

/// The candidates of one cell: the points of its neighbour cells, coordinates by dimension.
struct CandidateBlock {
  std::int64_t cell = -1;
  std::vector<std::int64_t> ids;
  std::vector<double> coords;  // [dim][ids.size()]

  void gather(const double* points, std::size_t dim, const CellList& cells, std::int64_t c) {
    cell = c;
    ids.clear();
    for (std::size_t o = 0; o < cells.nOffsets; ++o) {
      const std::int64_t nb = cells.neighbourCells[c * static_cast<std::int64_t>(cells.nOffsets) +
                                                   static_cast<std::int64_t>(o)];
      if (nb < 0) {
        continue;
      }
      const std::int64_t* first = cells.order + cells.cellStart[nb];
      ids.insert(ids.end(), first, first + cells.cellCount[nb]);
    }
    const std::size_t m = ids.size();
    coords.resize(dim * m);
    for (std::size_t j = 0; j < m; ++j) {
      const double* p = points + static_cast<std::size_t>(ids[j]) * dim;
      for (std::size_t d = 0; d < dim; ++d) {
        coords[d * m + j] = p[d];
      }
    }
  }
};

/// The queries [begin, end) of one cell against that cell's candidate block, tile by tile;
/// their pairs appended to `out`, query by query.
void searchRun(const double* points, std::size_t dim, const CandidateBlock& block,
               const std::int64_t* queries, std::size_t begin, std::size_t end, double r2,
               std::int64_t k, std::vector<std::vector<std::pair<double, std::int64_t>>>& found,
               NeighbourPairs& out) {
  const std::size_t n = end - begin;
  const std::size_t m = block.ids.size();
  if (found.size() < n) {
    found.resize(n);
  }
  for (std::size_t i = 0; i < n; ++i) {
    found[i].clear();
  }
  double acc[kTile];
  for (std::size_t j0 = 0; j0 < m; j0 += kTile) {
    const std::size_t width = std::min(kTile, m - j0);
    const std::int64_t* ids = block.ids.data() + j0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t q = queries[begin + i];
      squaredDistances(points + static_cast<std::size_t>(q) * dim, block.coords.data() + j0, dim,
                       m, width, acc);
      if (!anyWithin(acc, width, r2)) {
        continue;  // most tiles of most queries: nothing within the radius
      }
      for (std::size_t j = 0; j < width; ++j) {
        if (acc[j] <= r2 && ids[j] != q) {
          found[i].emplace_back(acc[j], ids[j]);
        }
      }
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    auto& pairs = found[i];
    if (k > 0 && pairs.size() > static_cast<std::size_t>(k)) {
      std::nth_element(pairs.begin(), pairs.begin() + k, pairs.end());
      pairs.resize(static_cast<std::size_t>(k));
    }
    std::sort(pairs.begin(), pairs.end());
    const std::int64_t q = queries[begin + i];
    for (const auto& [d2, id] : pairs) {
      out.query.push_back(q);
      out.neighbour.push_back(id);
      out.dist2.push_back(d2);
    }
  }
}

void searchSlice(const double* points, std::size_t dim, const CellList& cells,
                 const std::int64_t* queries, const std::int64_t* queryCell, std::size_t begin,
                 std::size_t end, double r2, std::int64_t k, NeighbourPairs& out) {
  CandidateBlock block;
  std::vector<std::vector<std::pair<double, std::int64_t>>> found;
  while (begin < end) {
    std::size_t runEnd = begin + 1;
    while (runEnd < end && queryCell[runEnd] == queryCell[begin]) {
      ++runEnd;
    }
    block.gather(points, dim, cells, queryCell[begin]);
    searchRun(points, dim, block, queries, begin, runEnd, r2, k, found, out);
    begin = runEnd;
  }
}

}  // namespace

NeighbourPairs radiusNeighboursInCells(const double* points, std::size_t dim,
                                       const CellList& cells, const std::int64_t* queries,
                                       const std::int64_t* queryCell, std::size_t nQueries,
                                       double r2, std::int64_t k, int nThreads) {
  // a query costs ~ its candidates (thousands): a few hundred queries per thread pay
  const std::size_t threads = resolveThreads(nQueries, nThreads, 256);
  std::vector<NeighbourPairs> parts(threads);
  parallelSlices(nQueries, threads, [&](std::size_t t, std::size_t begin, std::size_t end) {
    searchSlice(points, dim, cells, queries, queryCell, begin, end, r2, k, parts[t]);
  });
  if (threads == 1) {
    return std::move(parts[0]);
  }
  NeighbourPairs all;
  std::size_t total = 0;
  for (const auto& p : parts) {
    total += p.query.size();
  }
  all.query.reserve(total);
  all.neighbour.reserve(total);
  all.dist2.reserve(total);
  for (const auto& p : parts) {
    all.query.insert(all.query.end(), p.query.begin(), p.query.end());
    all.neighbour.insert(all.neighbour.end(), p.neighbour.begin(), p.neighbour.end());
    all.dist2.insert(all.dist2.end(), p.dist2.begin(), p.dist2.end());
  }
  return all;
}

}  // namespace acts_gnn
