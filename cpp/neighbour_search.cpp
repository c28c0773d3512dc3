#include "neighbour_search.hpp"

#include <algorithm>
#include <utility>

#include "parallel_for.hpp"

namespace acts_gnn {

namespace {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ACTS_GNN_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ACTS_GNN_VECTOR_CLONES
#endif

/// acc[j] = sum over d of (q[d] - coords[d * stride + j])^2 for j < m, the sum taken in the
/// order of d from 0.0 (the exact distance: no reassociation, no contraction; vectorised
/// across j only). D > 0: the dimension known at compile time (the d loop unrolled, each
/// sum held in a register); D == 0: any `dim`.
template <std::size_t D>
ACTS_GNN_VECTOR_CLONES void squaredDistances(const double* q, const double* coords,
                                             std::size_t dim, std::size_t stride, std::size_t m,
                                             double* acc) {
  if constexpr (D > 0) {
    double qd[D];
    for (std::size_t d = 0; d < D; ++d) {
      qd[d] = q[d];
    }
    for (std::size_t j = 0; j < m; ++j) {
      double sum = 0.0;
      for (std::size_t d = 0; d < D; ++d) {
        const double diff = qd[d] - coords[d * stride + j];
        sum = sum + diff * diff;
      }
      acc[j] = sum;
    }
  } else {
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
}

using DistanceKernel = void (*)(const double*, const double*, std::size_t, std::size_t,
                                std::size_t, double*);

/// The distance kernel for `dim`: unrolled for the embedding sizes in use, else generic.
DistanceKernel distanceKernel(std::size_t dim) {
  switch (dim) {
    case 2: return squaredDistances<2>;
    case 3: return squaredDistances<3>;
    case 4: return squaredDistances<4>;
    case 6: return squaredDistances<6>;
    case 8: return squaredDistances<8>;
    case 12: return squaredDistances<12>;
    case 16: return squaredDistances<16>;
    default: return squaredDistances<0>;
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
  std::vector<std::int64_t> ids;
  std::vector<double> coords;  // [dim][ids.size()]

  void gather(const double* points, std::size_t dim, const CellList& cells, std::int64_t c) {
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
               std::int64_t k, bool sortPairs,
               std::vector<std::vector<std::pair<double, std::int64_t>>>& found,
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
  std::uint16_t within[kTile];
  const DistanceKernel distances = distanceKernel(dim);
  for (std::size_t j0 = 0; j0 < m; j0 += kTile) {
    const std::size_t width = std::min(kTile, m - j0);
    const std::int64_t* ids = block.ids.data() + j0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t q = queries[begin + i];
      distances(points + static_cast<std::size_t>(q) * dim, block.coords.data() + j0, dim, m,
                width, acc);
      if (!anyWithin(acc, width, r2)) {
        continue;  // most tiles of most queries: nothing within the radius
      }
      std::size_t nWithin = 0;  // branch-free: whether a candidate is within is unpredictable
      for (std::size_t j = 0; j < width; ++j) {
        within[nWithin] = static_cast<std::uint16_t>(j);
        nWithin += acc[j] <= r2 ? 1 : 0;
      }
      for (std::size_t t = 0; t < nWithin; ++t) {
        const std::size_t j = within[t];
        if (ids[j] != q) {
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
    if (sortPairs) {
      std::sort(pairs.begin(), pairs.end());
    }
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
                 std::size_t end, double r2, std::int64_t k, bool sortPairs, NeighbourPairs& out) {
  CandidateBlock block;
  std::vector<std::vector<std::pair<double, std::int64_t>>> found;
  while (begin < end) {
    std::size_t runEnd = begin + 1;
    while (runEnd < end && queryCell[runEnd] == queryCell[begin]) {
      ++runEnd;
    }
    block.gather(points, dim, cells, queryCell[begin]);
    searchRun(points, dim, block, queries, begin, runEnd, r2, k, sortPairs, found, out);
    begin = runEnd;
  }
}

}  // namespace

NeighbourPairs radiusNeighboursInCells(const double* points, std::size_t dim,
                                       const CellList& cells, const std::int64_t* queries,
                                       const std::int64_t* queryCell, std::size_t nQueries,
                                       double r2, std::int64_t k, bool sortPairs,
                                       int nThreads) {
  // a query costs ~ its candidates (thousands): a few hundred queries per thread pay
  const std::size_t threads = resolveThreads(nQueries, nThreads, 256);
  std::vector<NeighbourPairs> parts(threads);
  parallelSlices(nQueries, threads, [&](std::size_t t, std::size_t begin, std::size_t end) {
    searchSlice(points, dim, cells, queries, queryCell, begin, end, r2, k, sortPairs, parts[t]);
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

void uniqueEdges(const std::int64_t* a, const std::int64_t* b, std::size_t n,
                 std::int64_t nNodes, std::vector<std::int64_t>& lo, std::vector<std::int64_t>& hi) {
  const auto nodes = static_cast<std::uint64_t>(std::max<std::int64_t>(nNodes, 1));
  std::vector<std::uint64_t> keys(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<std::uint64_t>(a[i]);
    const auto y = static_cast<std::uint64_t>(b[i]);
    keys[i] = std::min(x, y) * nodes + std::max(x, y);
  }
  const std::uint64_t largest = nodes * nodes - 1;
  constexpr unsigned kBits = 11;
  constexpr std::size_t kBuckets = std::size_t{1} << kBits;
  std::vector<std::uint64_t> swap(n);
  for (unsigned shift = 0; shift < 64 && (largest >> shift) != 0; shift += kBits) {
    std::vector<std::size_t> offset(kBuckets + 1, 0);
    for (const std::uint64_t key : keys) {
      ++offset[((key >> shift) & (kBuckets - 1)) + 1];
    }
    for (std::size_t d = 1; d <= kBuckets; ++d) {
      offset[d] += offset[d - 1];
    }
    for (const std::uint64_t key : keys) {
      swap[offset[(key >> shift) & (kBuckets - 1)]++] = key;
    }
    keys.swap(swap);
  }
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  lo.resize(keys.size());
  hi.resize(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    lo[i] = static_cast<std::int64_t>(keys[i] / nodes);
    hi[i] = static_cast<std::int64_t>(keys[i] % nodes);
  }
}

}  // namespace acts_gnn
