// Python bindings of the acts_gnn C++ core (module `acts_gnn._core`).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "geometry_kernels.hpp"
#include "interaction_network.hpp"
#include "module_map.hpp"
#include "neighbour_search.hpp"
#include "track_building.hpp"
#include "track_cleaning.hpp"
#include "triplet_accumulator.hpp"

namespace py = pybind11;

namespace {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IndexArray = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

std::size_t checkCoordinates(const DoubleArray& x, const DoubleArray& y, const DoubleArray& z) {
  if (x.ndim() != 1 || y.ndim() != 1 || z.ndim() != 1) {
    throw std::invalid_argument("x, y, z must be 1-D arrays");
  }
  if (x.shape(0) != y.shape(0) || x.shape(0) != z.shape(0)) {
    throw std::invalid_argument("x, y, z must have the same length");
  }
  return static_cast<std::size_t>(x.shape(0));
}

std::size_t checkIndices(const IndexArray& idx, const char* name, std::size_t nHits,
                         std::size_t expected, bool haveExpected) {
  if (idx.ndim() != 1) {
    throw std::invalid_argument(std::string(name) + " must be a 1-D integer array");
  }
  const auto n = static_cast<std::size_t>(idx.shape(0));
  if (haveExpected && n != expected) {
    throw std::invalid_argument(std::string(name) + " has a different length from the first index array");
  }
  const std::int64_t* data = idx.data();
  for (std::size_t i = 0; i < n; ++i) {
    if (data[i] < 0 || static_cast<std::size_t>(data[i]) >= nHits) {
      throw std::out_of_range(std::string(name) + "[" + std::to_string(i) + "] = " +
                              std::to_string(data[i]) + " is not a hit index (number of hits " +
                              std::to_string(nHits) + ")");
    }
  }
  return n;
}

/// Rows [E, columns] of T per doublet src -> dst, written by `kernel` without the GIL.
template <typename T>
py::array_t<T> doubletRowsPy(const DoubleArray& x, const DoubleArray& y, const DoubleArray& z,
                             const IndexArray& src, const IndexArray& dst, int nThreads,
                             std::size_t columns,
                             void (*kernel)(const double*, const double*, const double*,
                                            std::size_t, const std::int64_t*,
                                            const std::int64_t*, std::size_t, T*, int)) {
  const std::size_t nHits = checkCoordinates(x, y, z);
  const std::size_t n = checkIndices(src, "src", nHits, 0, false);
  checkIndices(dst, "dst", nHits, n, true);
  py::array_t<T> out({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(columns)});
  T* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    kernel(x.data(), y.data(), z.data(), nHits, src.data(), dst.data(), n, o, nThreads);
  }
  return out;
}

py::array_t<double> doubletFeaturesPy(const DoubleArray& x, const DoubleArray& y,
                                      const DoubleArray& z, const IndexArray& src,
                                      const IndexArray& dst, int nThreads) {
  return doubletRowsPy<double>(x, y, z, src, dst, nThreads, acts_gnn::kDoubletColumns,
                               acts_gnn::doubletFeatures);
}

py::array_t<float> edgeFeaturesPy(const DoubleArray& x, const DoubleArray& y,
                                  const DoubleArray& z, const IndexArray& src,
                                  const IndexArray& dst, int nThreads) {
  return doubletRowsPy<float>(x, y, z, src, dst, nThreads, acts_gnn::kEdgeFeatureColumns,
                              acts_gnn::edgeFeatures);
}

py::array_t<double> tripletFeaturesPy(const DoubleArray& x, const DoubleArray& y,
                                      const DoubleArray& z, const IndexArray& a,
                                      const IndexArray& b, const IndexArray& c, int nThreads) {
  const std::size_t nHits = checkCoordinates(x, y, z);
  const std::size_t n = checkIndices(a, "a", nHits, 0, false);
  checkIndices(b, "b", nHits, n, true);
  checkIndices(c, "c", nHits, n, true);
  py::array_t<double> out({static_cast<py::ssize_t>(n),
                           static_cast<py::ssize_t>(acts_gnn::kTripletColumns)});
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    acts_gnn::tripletFeatures(x.data(), y.data(), z.data(), a.data(), b.data(), c.data(), n, o,
                              nThreads);
  }
  return out;
}

using Int32Array = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;

void checkShape(const py::array& a, const char* name, py::ssize_t rows, py::ssize_t cols) {
  if (a.ndim() != 2 || a.shape(0) != rows || a.shape(1) != cols) {
    throw std::invalid_argument(std::string(name) + " must have shape [" + std::to_string(rows) +
                                ", " + std::to_string(cols) + "]");
  }
}

template <typename T>
void checkRange(const py::array_t<T, py::array::c_style | py::array::forcecast>& a,
                const char* name, std::int64_t low, std::int64_t high) {
  const T* data = a.data();
  for (py::ssize_t i = 0; i < a.size(); ++i) {
    if (static_cast<std::int64_t>(data[i]) < low || static_cast<std::int64_t>(data[i]) >= high) {
      throw std::out_of_range(std::string(name) + " holds " + std::to_string(data[i]) +
                              ", outside [" + std::to_string(low) + ", " + std::to_string(high) + ")");
    }
  }
}

/// The ranges of a module map passed to module_map_graph: C-contiguous arrays of one float
/// type, never converted (a converted copy per event would cost more than the graph).
template <typename Cut>
using CutArray = py::array_t<Cut, py::array::c_style>;

template <typename Cut>
py::tuple moduleMapGraphImpl(const DoubleArray& x, const DoubleArray& y, const DoubleArray& z,
                             const IndexArray& hitModule, std::size_t nModules,
                             const Int32Array& doubletModules, const py::array& doubletCutsIn,
                             const Int32Array& tripletDoublets, const py::array& cuts12In,
                             const py::array& cuts23In, const py::array& diffDzdrIn,
                             const py::array& diffDydxIn, int nThreads, bool checkMap) {
  const auto doubletCuts = CutArray<Cut>::ensure(doubletCutsIn);
  const auto cuts12 = CutArray<Cut>::ensure(cuts12In);
  const auto cuts23 = CutArray<Cut>::ensure(cuts23In);
  const auto diffDzdr = CutArray<Cut>::ensure(diffDzdrIn);
  const auto diffDydx = CutArray<Cut>::ensure(diffDydxIn);
  const std::size_t nHits = checkCoordinates(x, y, z);
  if (hitModule.ndim() != 1 || static_cast<std::size_t>(hitModule.shape(0)) != nHits) {
    throw std::invalid_argument("hit_module must be 1-D with one entry per hit");
  }
  checkRange(hitModule, "hit_module", -1, static_cast<std::int64_t>(nModules));
  const auto nDoublets = doubletModules.ndim() == 2 ? doubletModules.shape(0) : -1;
  checkShape(doubletModules, "doublet_modules", nDoublets, 2);
  if (checkMap) {  // the map's indices: 2 (D + T) values, ~1.5 ms at 10^6 triplets
    checkRange(doubletModules, "doublet_modules", 0, static_cast<std::int64_t>(nModules));
  }
  checkShape(doubletCuts, "doublet_cuts", nDoublets, acts_gnn::kDoubletCutColumns);
  const auto nTriplets = tripletDoublets.ndim() == 2 ? tripletDoublets.shape(0) : -1;
  checkShape(tripletDoublets, "triplet_doublets", nTriplets, 2);
  if (checkMap) {
    checkRange(tripletDoublets, "triplet_doublets", 0, nDoublets);
  }
  checkShape(cuts12, "cuts12", nTriplets, acts_gnn::kDoubletCutColumns);
  checkShape(cuts23, "cuts23", nTriplets, acts_gnn::kDoubletCutColumns);
  checkShape(diffDzdr, "diff_dzdr", nTriplets, 2);
  checkShape(diffDydx, "diff_dydx", nTriplets, 2);

  acts_gnn::ModuleMapView<Cut> view;
  view.nModules = nModules;
  view.nDoublets = static_cast<std::size_t>(nDoublets);
  view.doubletModules = doubletModules.data();
  view.doubletCuts = doubletCuts.data();
  view.nTriplets = static_cast<std::size_t>(nTriplets);
  view.tripletDoublets = tripletDoublets.data();
  view.cuts12 = cuts12.data();
  view.cuts23 = cuts23.data();
  view.diffDzdr = diffDzdr.data();
  view.diffDydx = diffDydx.data();
  acts_gnn::ModuleMapGraph graph;
  {
    py::gil_scoped_release release;
    graph = acts_gnn::buildModuleMapGraph(x.data(), y.data(), z.data(), hitModule.data(), nHits,
                                          view, nThreads);
  }
  py::array_t<std::int64_t> edges({py::ssize_t{2}, static_cast<py::ssize_t>(graph.src.size())});
  // mutable_data() without indices: mutable_data(1, 0) is bounds-checked and throws
  // IndexError on an empty graph ([2, 0]).
  std::int64_t* out = edges.mutable_data();
  std::copy(graph.src.begin(), graph.src.end(), out);
  std::copy(graph.dst.begin(), graph.dst.end(), out + graph.src.size());
  return py::make_tuple(edges, graph.doubletEdges);
}

/// module_map_graph: the ranges all float64 or all float32 (C-contiguous), else TypeError.
py::tuple moduleMapGraphPy(const DoubleArray& x, const DoubleArray& y, const DoubleArray& z,
                           const IndexArray& hitModule, std::size_t nModules,
                           const Int32Array& doubletModules, const py::array& doubletCuts,
                           const Int32Array& tripletDoublets, const py::array& cuts12,
                           const py::array& cuts23, const py::array& diffDzdr,
                           const py::array& diffDydx, int nThreads, bool checkMap) {
  const py::array* ranges[] = {&doubletCuts, &cuts12, &cuts23, &diffDzdr, &diffDydx};
  // `tag` is a value of the range type tried: double, then float
  const auto allOf = [&ranges](auto tag) {
    using Cut = decltype(tag);
    return std::all_of(std::begin(ranges), std::end(ranges), [](const py::array* a) {
      return CutArray<Cut>::check_(*a) && (a->flags() & py::array::c_style) != 0;
    });
  };
  const auto run = [&](auto tag) {
    return moduleMapGraphImpl<decltype(tag)>(x, y, z, hitModule, nModules, doubletModules,
                                             doubletCuts, tripletDoublets, cuts12, cuts23,
                                             diffDzdr, diffDydx, nThreads, checkMap);
  };
  if (allOf(double{})) {
    return run(double{});
  }
  if (allOf(float{})) {
    return run(float{});
  }
  throw py::type_error(
      "doublet_cuts, cuts12, cuts23, diff_dzdr and diff_dydx must all be C-contiguous float64 "
      "or all C-contiguous float32 arrays");
}


// -- module-map building -------------------------------------------------------------------

using UInt64Array = py::array_t<std::uint64_t, py::array::c_style | py::array::forcecast>;

/// Rows of a triplet batch: module ids [n, 3] and values [n, 10]; returns n.
std::size_t checkTripletRows(const UInt64Array& modules, const DoubleArray& values,
                             const char* name) {
  const auto n = modules.ndim() == 2 ? modules.shape(0) : -1;
  checkShape(modules, "module_ids", n, 3);
  checkShape(values, name, n, acts_gnn::kTripletQuantities);
  return static_cast<std::size_t>(n);
}

void accumulatorAddRanges(acts_gnn::TripletAccumulator& acc, const UInt64Array& modules,
                          const DoubleArray& lo, const DoubleArray& hi, const IndexArray& counts) {
  const std::size_t n = checkTripletRows(modules, lo, "lo");
  checkTripletRows(modules, hi, "hi");
  if (counts.ndim() != 1 || static_cast<std::size_t>(counts.shape(0)) != n) {
    throw std::invalid_argument("counts must be 1-D with one entry per row");
  }
  py::gil_scoped_release release;
  acc.add(modules.data(), lo.data(), hi.data(), counts.data(), n);
}

void accumulatorAddSamples(acts_gnn::TripletAccumulator& acc, const UInt64Array& modules,
                           const DoubleArray& samples) {
  const std::size_t n = checkTripletRows(modules, samples, "samples");
  py::gil_scoped_release release;
  acc.add(modules.data(), samples.data(), samples.data(), nullptr, n);
}

/// (module_ids [n, 3], lo [n, 10], hi [n, 10], counts [n]) filled by `fill(modules, lo, hi,
/// counts)` without the GIL.
template <typename Fill>
py::tuple tripletRowArrays(std::size_t rows, Fill&& fill) {
  const auto n = static_cast<py::ssize_t>(rows);
  const auto q = static_cast<py::ssize_t>(acts_gnn::kTripletQuantities);
  py::array_t<std::uint64_t> modules({n, py::ssize_t{3}});
  py::array_t<double> lo({n, q});
  py::array_t<double> hi({n, q});
  py::array_t<std::int64_t> counts(n);
  auto* m = modules.mutable_data();
  auto* l = lo.mutable_data();
  auto* h = hi.mutable_data();
  auto* c = counts.mutable_data();
  {
    py::gil_scoped_release release;
    fill(m, l, h, c);
  }
  return py::make_tuple(modules, lo, hi, counts);
}

py::tuple accumulatorResult(const acts_gnn::TripletAccumulator& acc) {
  return tripletRowArrays(acc.size(), [&acc](auto* m, auto* l, auto* h, auto* c) {
    acc.rows(m, l, h, c);
  });
}

py::tuple mapDoubletsPy(const Int32Array& triplets, const DoubleArray& cuts12,
                        const DoubleArray& cuts23) {
  const auto nTriplets = triplets.ndim() == 2 ? triplets.shape(0) : -1;
  checkShape(triplets, "triplets", nTriplets, 3);
  checkRange(triplets, "triplets", 0, std::numeric_limits<std::int32_t>::max());
  checkShape(cuts12, "cuts12", nTriplets, acts_gnn::kDoubletCutColumns);
  checkShape(cuts23, "cuts23", nTriplets, acts_gnn::kDoubletCutColumns);
  acts_gnn::MapDoublets doublets;
  {
    py::gil_scoped_release release;
    doublets = acts_gnn::deriveMapDoublets(triplets.data(), static_cast<std::size_t>(nTriplets),
                                           cuts12.data(), cuts23.data());
  }
  const auto nDoublets = static_cast<py::ssize_t>(doublets.modules.size() / 2);
  const auto q = static_cast<py::ssize_t>(acts_gnn::kDoubletCutQuantities);
  py::array_t<std::int32_t> modules({nDoublets, py::ssize_t{2}});
  py::array_t<std::int32_t> tripletDoublets({static_cast<py::ssize_t>(nTriplets), py::ssize_t{2}});
  py::array_t<double> cuts({nDoublets, q, py::ssize_t{2}});
  std::copy(doublets.modules.begin(), doublets.modules.end(), modules.mutable_data());
  std::copy(doublets.tripletDoublets.begin(), doublets.tripletDoublets.end(),
            tripletDoublets.mutable_data());
  std::copy(doublets.cuts.begin(), doublets.cuts.end(), cuts.mutable_data());
  return py::make_tuple(modules, tripletDoublets, cuts);
}

acts_gnn::TripletRowsView tripletRowsView(const UInt64Array& modules, const DoubleArray& lo,
                                          const DoubleArray& hi, const IndexArray& counts,
                                          const char* which) {
  const std::size_t n = checkTripletRows(modules, lo, "lo");
  checkTripletRows(modules, hi, "hi");
  if (counts.ndim() != 1 || static_cast<std::size_t>(counts.shape(0)) != n) {
    throw std::invalid_argument(std::string(which) +
                                ": counts must be 1-D with one entry per row");
  }
  return {modules.data(), lo.data(), hi.data(), counts.data(), n};
}

py::tuple mergeTripletRowsPy(const UInt64Array& modulesA, const DoubleArray& loA,
                             const DoubleArray& hiA, const IndexArray& countsA,
                             const UInt64Array& modulesB, const DoubleArray& loB,
                             const DoubleArray& hiB, const IndexArray& countsB) {
  const auto a = tripletRowsView(modulesA, loA, hiA, countsA, "first rows");
  const auto b = tripletRowsView(modulesB, loB, hiB, countsB, "second rows");
  std::size_t size = 0;
  {
    py::gil_scoped_release release;
    size = acts_gnn::mergedTripletRows(a, b);
  }
  return tripletRowArrays(size, [&a, &b](auto* m, auto* l, auto* h, auto* c) {
    acts_gnn::mergeTripletRows(a, b, m, l, h, c);
  });
}

// -- track building ------------------------------------------------------------------------

/// Check edge_index [2, E] (int64) and optional scores [E]; returns E. Node indices must lie in
/// [0, nNodes) and scores must not be NaN.
std::size_t checkGraph(const IndexArray& edges, const DoubleArray* scores, std::size_t nNodes) {
  if (edges.ndim() != 2 || edges.shape(0) != 2) {
    throw std::invalid_argument("edge_index must have shape [2, E]");
  }
  const auto nEdges = static_cast<std::size_t>(edges.shape(1));
  checkRange(edges, "edge_index", 0, static_cast<std::int64_t>(nNodes));
  if (scores != nullptr) {
    if (scores->ndim() != 1 || static_cast<std::size_t>(scores->shape(0)) != nEdges) {
      throw std::invalid_argument("scores must be 1-D with one entry per edge (" +
                                  std::to_string(nEdges) + ")");
    }
    const double* s = scores->data();
    for (std::size_t e = 0; e < nEdges; ++e) {
      if (s[e] != s[e]) {
        throw std::invalid_argument("scores[" + std::to_string(e) + "] is NaN");
      }
    }
  }
  return nEdges;
}

py::tuple chainsToPython(acts_gnn::Chains&& chains) {
  auto toArray = [](const auto& v) {
    using T = typename std::decay_t<decltype(v)>::value_type;
    py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
    std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
  };
  py::array_t<bool> used(static_cast<py::ssize_t>(chains.edgeUsed.size()));
  std::copy(chains.edgeUsed.begin(), chains.edgeUsed.end(), used.mutable_data());
  return py::make_tuple(toArray(chains.label), toArray(chains.position), used, chains.nChains);
}

py::array_t<bool> junctionRemovalPy(std::size_t nNodes, const IndexArray& edges,
                                    const DoubleArray& scores) {
  const std::size_t nEdges = checkGraph(edges, &scores, nNodes);
  py::array_t<bool> keep(static_cast<py::ssize_t>(nEdges));
  static_assert(sizeof(bool) == sizeof(std::uint8_t), "bool must be one byte");
  auto* out = reinterpret_cast<std::uint8_t*>(keep.mutable_data());
  const std::int64_t* e = edges.data();
  {
    py::gil_scoped_release release;
    acts_gnn::junctionRemoval(nNodes, e, e + nEdges, scores.data(), nEdges, out);
  }
  return keep;
}

py::tuple chainLabelsPy(std::size_t nNodes, const IndexArray& edges) {
  const std::size_t nEdges = checkGraph(edges, nullptr, nNodes);
  const std::int64_t* e = edges.data();
  acts_gnn::Chains chains;
  {
    py::gil_scoped_release release;
    chains = acts_gnn::chainLabels(nNodes, e, e + nEdges, nEdges, nullptr);
  }
  return chainsToPython(std::move(chains));
}

py::tuple walkthroughPy(std::size_t nNodes, const IndexArray& edges, const DoubleArray& scores,
                        double cutHigh, double cutLow) {
  const std::size_t nEdges = checkGraph(edges, &scores, nNodes);
  const std::int64_t* e = edges.data();
  acts_gnn::Chains chains;
  {
    py::gil_scoped_release release;
    chains = acts_gnn::walkthrough(nNodes, e, e + nEdges, scores.data(), nEdges, cutHigh, cutLow);
  }
  return chainsToPython(std::move(chains));
}

py::array_t<bool> helixOutliersPy(const DoubleArray& x, const DoubleArray& y, const DoubleArray& z,
                                  const IndexArray& offsets, const IndexArray& hits,
                                  double tolTransverse, double tolLongitudinal, int maxRemoved,
                                  int minKept, int nThreads) {
  const std::size_t nHits = checkCoordinates(x, y, z);
  const std::size_t nCandidateHits = checkIndices(hits, "hits", nHits, 0, false);
  for (std::size_t k = 0; k < nCandidateHits; ++k) {
    const std::int64_t row = hits.data()[k];
    if (!std::isfinite(x.data()[row]) || !std::isfinite(y.data()[row]) ||
        !std::isfinite(z.data()[row])) {
      throw std::invalid_argument("track cleaning: hit row " + std::to_string(row) +
                                  " of a candidate has a non-finite position (mm)");
    }
  }
  if (offsets.ndim() != 1 || offsets.shape(0) < 1) {
    throw std::invalid_argument("offsets must be a 1-D integer array [C + 1]");
  }
  const std::size_t nCandidates = static_cast<std::size_t>(offsets.shape(0)) - 1;
  const std::int64_t* o = offsets.data();
  if (o[0] != 0 || o[nCandidates] != static_cast<std::int64_t>(nCandidateHits)) {
    throw std::invalid_argument("offsets must start at 0 and end at len(hits) = " +
                                std::to_string(nCandidateHits));
  }
  for (std::size_t c = 0; c < nCandidates; ++c) {
    if (o[c + 1] < o[c]) {
      throw std::invalid_argument("offsets must not decrease (offsets[" + std::to_string(c + 1) +
                                  "] < offsets[" + std::to_string(c) + "])");
    }
  }
  if (!(tolTransverse > 0.0) || !(tolLongitudinal > 0.0)) {
    throw std::invalid_argument("the tolerances must be > 0 mm");
  }
  if (maxRemoved < 0) {
    throw std::invalid_argument("max_removed must be >= 0");
  }
  py::array_t<bool> keep(static_cast<py::ssize_t>(nCandidateHits));
  auto* out = reinterpret_cast<std::uint8_t*>(keep.mutable_data());
  const acts_gnn::HelixCleaningCuts cuts{tolTransverse, tolLongitudinal, maxRemoved, minKept};
  {
    py::gil_scoped_release release;
    acts_gnn::removeHelixOutliers(x.data(), y.data(), z.data(), o, nCandidates, hits.data(),
                                  cuts, nThreads, out);
  }
  return keep;
}

/// A std::vector handed to numpy without a copy (the array owns it through a capsule).
template <typename T>
py::array_t<T> vectorToArray(std::vector<T>&& v) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule free(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(static_cast<py::ssize_t>(owned->size()), owned->data(), free);
}

py::tuple radiusNeighboursInCellsPy(const DoubleArray& points, const IndexArray& order,
                                    const IndexArray& cellStart, const IndexArray& cellCount,
                                    const IndexArray& neighbourCells, const IndexArray& queries,
                                    const IndexArray& queryCell, double r2, std::int64_t k,
                                    bool sortPairs, int nThreads) {
  if (points.ndim() != 2) {
    throw std::invalid_argument("points must be a 2-D float64 array [N, D]");
  }
  const auto nPoints = points.shape(0);
  const auto dim = static_cast<std::size_t>(points.shape(1));
  const auto nCells = cellStart.ndim() == 1 ? cellStart.shape(0) : -1;
  if (nCells < 0 || cellCount.ndim() != 1 || cellCount.shape(0) != nCells) {
    throw std::invalid_argument("cell_start and cell_count must be 1-D arrays of one length");
  }
  if (order.ndim() != 1 || order.shape(0) != nPoints) {
    throw std::invalid_argument("order must be 1-D with one entry per point");
  }
  if (neighbourCells.ndim() != 2 || neighbourCells.shape(0) != nCells) {
    throw std::invalid_argument("neighbour_cells must be [C, O] with one row per cell");
  }
  if (queries.ndim() != 1 || queryCell.ndim() != 1 || queryCell.shape(0) != queries.shape(0)) {
    throw std::invalid_argument("queries and query_cell must be 1-D arrays of one length");
  }
  if (!(r2 >= 0.0)) {
    throw std::invalid_argument("r2 must be >= 0");
  }
  checkRange(order, "order", 0, nPoints);
  checkRange(neighbourCells, "neighbour_cells", -1, nCells);
  checkRange(queries, "queries", 0, nPoints);
  checkRange(queryCell, "query_cell", 0, nCells);
  for (py::ssize_t c = 0; c < nCells; ++c) {
    const std::int64_t start = cellStart.data()[c];
    const std::int64_t count = cellCount.data()[c];
    if (start < 0 || count < 0 || start + count > nPoints) {
      throw std::out_of_range("cell " + std::to_string(c) + " holds order[" +
                              std::to_string(start) + ":" + std::to_string(start + count) +
                              "], outside the " + std::to_string(nPoints) + " points");
    }
  }
  const acts_gnn::CellList cells{order.data(), cellStart.data(), cellCount.data(),
                                 neighbourCells.data(),
                                 static_cast<std::size_t>(neighbourCells.shape(1))};
  acts_gnn::NeighbourPairs pairs;
  {
    py::gil_scoped_release release;
    pairs = acts_gnn::radiusNeighboursInCells(points.data(), dim, cells, queries.data(),
                                              queryCell.data(),
                                              static_cast<std::size_t>(queries.shape(0)), r2, k,
                                              sortPairs, nThreads);
  }
  return py::make_tuple(vectorToArray(std::move(pairs.query)),
                        vectorToArray(std::move(pairs.neighbour)),
                        vectorToArray(std::move(pairs.dist2)));
}

py::tuple uniqueEdgesPy(const IndexArray& a, const IndexArray& b, std::int64_t nNodes) {
  if (a.ndim() != 1 || b.ndim() != 1 || a.shape(0) != b.shape(0)) {
    throw std::invalid_argument("a and b must be 1-D int64 arrays of one length");
  }
  if (nNodes < 0 || nNodes > (std::int64_t{1} << 31)) {
    throw std::invalid_argument("n_nodes must be in [0, 2^31], got " + std::to_string(nNodes));
  }
  checkRange(a, "a", 0, nNodes);
  checkRange(b, "b", 0, nNodes);
  std::vector<std::int64_t> lo;
  std::vector<std::int64_t> hi;
  {
    py::gil_scoped_release release;
    acts_gnn::uniqueEdges(a.data(), b.data(), static_cast<std::size_t>(a.shape(0)), nNodes, lo,
                          hi);
  }
  return py::make_tuple(vectorToArray(std::move(lo)), vectorToArray(std::move(hi)));
}


using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

std::vector<float> floatVector(const py::handle& obj, const std::string& what) {
  const FloatArray a = FloatArray::ensure(obj);
  if (!a) throw std::invalid_argument(what + " is not a float array");
  return std::vector<float>(a.data(), a.data() + a.size());
}

/// An MLP from a sequence of (weight_t float32 [in, out], bias [out], norm_weight [out] or
/// None, norm_bias [out] or None, eps, activation name) tuples.
acts_gnn::Mlp mlpFromPy(const py::sequence& layers, const std::string& name) {
  acts_gnn::Mlp mlp;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto t = layers[i].cast<py::tuple>();
    const std::string what = name + " layer " + std::to_string(i);
    if (t.size() != 6) throw std::invalid_argument(what + ": expected a 6-tuple");
    const FloatArray weight = FloatArray::ensure(t[0]);
    if (!weight || weight.ndim() != 2) {
      throw std::invalid_argument(what + ": weight_t must be a 2-D float array [in, out]");
    }
    acts_gnn::DenseLayer layer;
    layer.in = static_cast<std::size_t>(weight.shape(0));
    layer.out = static_cast<std::size_t>(weight.shape(1));
    layer.weight.assign(weight.data(), weight.data() + weight.size());
    layer.bias = floatVector(t[1], what + " bias");
    layer.norm = !t[2].is_none();
    if (layer.norm) {
      layer.normWeight = floatVector(t[2], what + " norm weight");
      layer.normBias = floatVector(t[3], what + " norm bias");
    }
    layer.eps = t[4].cast<float>();
    layer.activation = acts_gnn::activationFromName(t[5].cast<std::string>());
    mlp.push_back(std::move(layer));
  }
  return mlp;
}

acts_gnn::InteractionNetworkWeights interactionNetworkFromPy(
    std::size_t nodeFeatures, std::size_t edgeFeatures, std::size_t hidden, bool useSum,
    bool useMean, const py::sequence& nodeEncoder, const py::sequence& edgeEncoder,
    const py::sequence& steps, const py::sequence& decoder) {
  acts_gnn::InteractionNetworkWeights w;
  w.nodeFeatures = nodeFeatures;
  w.edgeFeatures = edgeFeatures;
  w.hidden = hidden;
  w.useSum = useSum;
  w.useMean = useMean;
  w.nodeEncoder = mlpFromPy(nodeEncoder, "node encoder");
  w.edgeEncoder = mlpFromPy(edgeEncoder, "edge encoder");
  for (std::size_t t = 0; t < steps.size(); ++t) {
    const auto pair = steps[t].cast<py::tuple>();
    if (pair.size() != 2) throw std::invalid_argument("a step is a (node net, edge net) pair");
    w.nodeNets.push_back(mlpFromPy(pair[0].cast<py::sequence>(), "step node net"));
    w.edgeNets.push_back(mlpFromPy(pair[1].cast<py::sequence>(), "step edge net"));
  }
  w.decoder = mlpFromPy(decoder, "decoder");
  acts_gnn::checkInteractionNetwork(w);
  return w;
}

/// E of a graph given to a kernel: x [N, nodeFeatures], edge_index [2, E] of nodes < N
/// (invalid_argument / out_of_range otherwise, naming the array).
std::size_t checkGraph(const FloatArray& x, const IndexArray& edgeIndex, std::size_t nodeFeatures) {
  if (x.ndim() != 2 || static_cast<std::size_t>(x.shape(1)) != nodeFeatures) {
    throw std::invalid_argument("x must have shape [N, " + std::to_string(nodeFeatures) + "]");
  }
  if (edgeIndex.ndim() != 2 || edgeIndex.shape(0) != 2) {
    throw std::invalid_argument("edge_index must have shape [2, E]");
  }
  checkRange(edgeIndex, "edge_index", 0, static_cast<std::int64_t>(x.shape(0)));
  return static_cast<std::size_t>(edgeIndex.shape(1));
}

/// edge_attr [E, D] as float32 (checked; an empty array when D = 0, where None is required).
FloatArray edgeAttrFromPy(const py::object& obj, std::size_t edgeFeatures, std::size_t nEdges) {
  if (edgeFeatures == 0) {
    if (!obj.is_none()) {
      throw std::invalid_argument("this network was built without edge features: pass no edge_attr");
    }
    return FloatArray();
  }
  if (obj.is_none()) throw std::invalid_argument("this network needs edge_attr [E, D]");
  FloatArray a = FloatArray::ensure(obj);
  if (!a || a.ndim() != 2 || static_cast<std::size_t>(a.shape(0)) != nEdges ||
      static_cast<std::size_t>(a.shape(1)) != edgeFeatures) {
    throw std::invalid_argument("edge_attr must have shape [E, " + std::to_string(edgeFeatures) +
                                "]");
  }
  return a;
}

py::array_t<float> interactionNetworkLogitsPy(const acts_gnn::InteractionNetworkWeights& w,
                                              const FloatArray& x, const IndexArray& edgeIndex,
                                              const py::object& edgeAttrObj, bool bf16,
                                              int nThreads) {
  const auto nNodes = static_cast<std::size_t>(x.shape(0));
  const std::size_t nEdges = checkGraph(x, edgeIndex, w.nodeFeatures);
  const FloatArray edgeAttr = edgeAttrFromPy(edgeAttrObj, w.edgeFeatures, nEdges);
  py::array_t<float> logits(static_cast<py::ssize_t>(nEdges));
  float* out = logits.mutable_data();
  const std::int64_t* ei = edgeIndex.data();
  const float* attr = w.edgeFeatures > 0 ? edgeAttr.data() : nullptr;
  {
    py::gil_scoped_release release;
    acts_gnn::interactionNetworkLogits(w, x.data(), nNodes, ei, ei + nEdges, nEdges, attr, out,
                                       bf16, nThreads);
  }
  return logits;
}


/// An edge filter's MLP for acts_gnn::edgeMlpLogits (the bindings' EdgeMlpKernel).
struct EdgeMlpWeights {
  std::size_t nodeFeatures = 0;
  std::size_t edgeFeatures = 0;
  acts_gnn::Mlp mlp;
};

EdgeMlpWeights edgeMlpFromPy(std::size_t nodeFeatures, std::size_t edgeFeatures,
                             const py::sequence& layers) {
  EdgeMlpWeights w{nodeFeatures, edgeFeatures, mlpFromPy(layers, "edge MLP")};
  if (nodeFeatures == 0) throw std::invalid_argument("node_features must be > 0");
  acts_gnn::checkMlp(w.mlp, "edge MLP", 2 * nodeFeatures + edgeFeatures, 1);
  return w;
}

py::array_t<float> edgeMlpLogitsPy(const EdgeMlpWeights& w, const FloatArray& x,
                                   const IndexArray& edgeIndex, const py::object& edgeAttrObj,
                                   bool bf16, int nThreads) {
  const std::size_t nEdges = checkGraph(x, edgeIndex, w.nodeFeatures);
  const FloatArray edgeAttr = edgeAttrFromPy(edgeAttrObj, w.edgeFeatures, nEdges);
  py::array_t<float> logits(static_cast<py::ssize_t>(nEdges));
  float* out = logits.mutable_data();
  const std::int64_t* ei = edgeIndex.data();
  const float* attr = w.edgeFeatures > 0 ? edgeAttr.data() : nullptr;
  {
    py::gil_scoped_release release;
    acts_gnn::edgeMlpLogits(w.mlp, w.nodeFeatures, w.edgeFeatures, x.data(), ei, ei + nEdges,
                            nEdges, attr, out, bf16, nThreads);
  }
  return logits;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "acts_gnn C++ core: vectorised kernels over numpy arrays (units: mm, rad).";

  m.def("doublet_features", &doubletFeaturesPy, py::arg("x"), py::arg("y"), py::arg("z"),
        py::arg("src"), py::arg("dst"), py::arg("n_threads") = 1,
        R"doc(Geometric quantities of hit doublets src -> dst.

Returns a float64 array [E, 7] with columns dr, dphi, dz, deta, phi_slope, rphi_slope, z0
(mm, rad, 1/mm). Where dr == 0 the slopes are 0 and z0 is z of the source hit.)doc");
  m.def("edge_features", &edgeFeaturesPy, py::arg("x"), py::arg("y"), py::arg("z"),
        py::arg("src"), py::arg("dst"), py::arg("n_threads") = 1,
        R"doc(The standard GNN edge features of doublets src -> dst.

Returns float32 [E, 6]: the first six columns of doublet_features (dr, dphi, dz, deta,
phi_slope, rphi_slope; mm, rad, 1/mm), each rounded to float32 (as doublet_features(...)[:,
:6].astype(float32), without the float64 rows).)doc");
  m.def("triplet_features", &tripletFeaturesPy, py::arg("x"), py::arg("y"), py::arg("z"),
        py::arg("a"), py::arg("b"), py::arg("c"), py::arg("n_threads") = 1,
        R"doc(Geometric quantities of hit triplets a -> b -> c.

Returns a float64 array [T, 2] with columns diff_dzdr = dz/dr(ab) - dz/dr(bc) and
diff_dydx = -dy/dx(ab) - dy/dx(bc) (the ModuleMapGraph/acorn definition, sign included);
a ratio with a zero denominator counts as 0.)doc");
  m.def("module_map_graph", &moduleMapGraphPy, py::arg("x"), py::arg("y"), py::arg("z"),
        py::arg("hit_module"), py::arg("n_modules"), py::arg("doublet_modules"),
        py::arg("doublet_cuts"), py::arg("triplet_doublets"), py::arg("cuts12"),
        py::arg("cuts23"), py::arg("diff_dzdr"), py::arg("diff_dydx"), py::arg("n_threads") = 1,
        py::arg("check_map") = true,
        R"doc(Module-map graph of one event: doublet cuts, then triplet cuts.

hit_module: int64 [N], the map's module index of each hit (-1: module not in the map).
doublet_modules: int32 [D, 2]; doublet_cuts: float64 [D, 8] (min, max of z0, dphi, phi_slope,
deta); triplet_doublets: int32 [T, 2] (doublet index of the (1,2) and (2,3) legs); cuts12,
cuts23: float64 [T, 8]; diff_dzdr, diff_dydx: float64 [T, 2] (min, max). The five range
arrays may instead all be float32 (C-contiguous, never converted): the same comparisons in
float64, half the memory. check_map=False skips the range check of doublet_modules and
triplet_doublets (for a caller that checked that map once and holds it read-only; the
shapes and hit_module are always checked). Returns (edge_index int64 [2, E], number of edges
after the doublet cuts).)doc");
  m.def("map_doublets", &mapDoubletsPy, py::arg("triplets"), py::arg("cuts12"), py::arg("cuts23"),
        R"doc(The doublets of a module map's triplets.

triplets: int32 [T, 3] module indices (>= 0); cuts12, cuts23: float64 [T, 4, 2] (min, max of
z0, dphi, phi_slope, deta of the two legs). Returns (doublets int32 [D, 2]: each distinct leg
once, sorted; triplet_doublets int32 [T, 2]: the doublet of each leg; doublet_cuts float64
[D, 4, 2]: the union of the ranges of the legs on each doublet). Releases the GIL.)doc");
  py::class_<acts_gnn::TripletAccumulator>(m, "TripletAccumulator", R"doc(
Per module triplet: occurrence count and [min, max] of the 10 cut quantities, accumulated
in a hash table. Exact and independent of the order of the rows (of two equal zeros, -0.0 is
the min and +0.0 the max). The adding methods release the GIL.)doc")
      .def(py::init<>())
      .def("add_samples", &accumulatorAddSamples, py::arg("module_ids"), py::arg("samples"),
           "Add single samples: module_ids uint64 [n, 3], samples float64 [n, 10], each counted once.")
      .def("add_ranges", &accumulatorAddRanges, py::arg("module_ids"), py::arg("lo"),
           py::arg("hi"), py::arg("counts"),
           "Add reduced rows: module_ids uint64 [n, 3], lo and hi float64 [n, 10], counts int64 [n].")
      .def("__len__", &acts_gnn::TripletAccumulator::size)
      .def_property_readonly("samples", &acts_gnn::TripletAccumulator::samples,
                             "Sum of the counts added.")
      .def("result", &accumulatorResult,
           "(module_ids uint64 [U, 3], lo [U, 10], hi [U, 10], counts int64 [U]), sorted by "
           "module ids. Releases the GIL.");
  m.def("merge_triplet_rows", &mergeTripletRowsPy, py::arg("module_ids_a"), py::arg("lo_a"),
        py::arg("hi_a"), py::arg("counts_a"), py::arg("module_ids_b"), py::arg("lo_b"),
        py::arg("hi_b"), py::arg("counts_b"),
        R"doc(The union of two sets of accumulated rows, each sorted by module ids with no
module triplet twice (ValueError otherwise): one linear pass, rows of the same module triplet
combined as TripletAccumulator combines them. Returns the tuple of
TripletAccumulator.result, sorted. Releases the GIL.)doc");
  m.def("wrap_phi", &acts_gnn::wrapPhi, py::arg("dphi"), "Wrap an angle difference into [-pi, pi).");
  m.def("junction_removal", &junctionRemovalPy, py::arg("n_nodes"), py::arg("edge_index"),
        py::arg("scores"),
        R"doc(Junction removal (upstream ACTS junctionRemovalCuda, on CPU).

edge_index: int64 [2, E] (directed, inner -> outer); scores: [E] (no NaN).
Returns bool [E]: True for the edges that are both the best-scoring out-edge of their source
and the best-scoring in-edge of their target (ties: lower edge index). Releases the GIL.)doc");
  m.def("chain_labels", &chainLabelsPy, py::arg("n_nodes"), py::arg("edge_index"),
        R"doc(Chains of a junction-free directed graph (at most one in- and one out-edge per node).

Self loops are ignored; ValueError if a node has two in- or two out-edges.
Returns (label int64 [N] (-1: on no edge), position int64 [N] (index along the chain in
graph order, -1: none), edge_used bool [E], number of chains). Open chains are numbered by
their first node, closed loops after them (starting at their lowest node).)doc");
  m.def("walkthrough", &walkthroughPy, py::arg("n_nodes"), py::arg("edge_index"),
        py::arg("scores"), py::arg("cut_high"), py::arg("cut_low"),
        R"doc(Walkthrough track building: junction removal on the edges with score > cut_high,
then unambiguous continuations (score > cut_low; the only candidate of both the chain end and
the chain start it joins), then chain labels.

Returns the same tuple as chain_labels. Releases the GIL.)doc");
  m.def("helix_outliers", &helixOutliersPy, py::arg("x"), py::arg("y"), py::arg("z"),
        py::arg("offsets"), py::arg("hits"), py::arg("tol_transverse"),
        py::arg("tol_longitudinal"), py::arg("max_removed"), py::arg("min_kept"),
        py::arg("n_threads") = 1,
        R"doc(Track cleaning: which hits of each candidate lie on its helix.

x, y, z: [N] hit positions (mm, field along z); candidate c is hits[offsets[c]:offsets[c+1]]
(int64 rows into x, y, z; offsets int64 [C + 1]). Per candidate, repeatedly: every remaining
hit's distance from the circle (transverse) and from the (arc length, z) line fitted to the
other remaining hits; the hit with the largest distance / tolerance is removed while that
ratio is > 1, at most max_removed hits, never leaving fewer than max(min_kept, 4).
ValueError for a candidate hit with a non-finite position. Returns bool [len(hits)]: False for the removed hits. Releases the GIL.)doc");
  m.def("radius_neighbours_in_cells", &radiusNeighboursInCellsPy, py::arg("points"),
        py::arg("order"), py::arg("cell_start"), py::arg("cell_count"),
        py::arg("neighbour_cells"), py::arg("queries"), py::arg("query_cell"), py::arg("r2"),
        py::arg("k"), py::arg("sort_pairs") = true, py::arg("n_threads") = 1,
        R"doc(Radius + max-k neighbour search over a cell list (the CPU grid backend).

points: float64 [N, D]; the points of cell c are order[cell_start[c]:cell_start[c] +
cell_count[c]]; a query of cell c is compared with the points of the cells neighbour_cells[c]
(int64 [C, O], -1: empty). queries, query_cell: int64 [Q] (queries of one cell consecutive
for speed). Squared distances are float64, summed over the dimensions in order (the exact
distance of acts_gnn.graph.knn). Keeps the pairs with d2 <= r2, no self pairs, the k nearest
by (d2, neighbour index) per query (k <= 0: all). Returns (query int64 [P], neighbour int64
[P], d2 float64 [P]): each query's pairs together in the order of the queries, sorted by (d2,
neighbour) if sort_pairs (else in an unspecified order, the same set). Releases the GIL; the
result does not depend on n_threads.)doc");
  m.def("unique_edges", &uniqueEdgesPy, py::arg("a"), py::arg("b"), py::arg("n_nodes"),
        R"doc(The unique undirected edges of the pairs (a[i], b[i]) of nodes < n_nodes.

Returns (lo int64 [E], hi int64 [E]): (min, max) of each pair, each edge once, sorted by (lo,
hi) (as torch.unique of lo * n_nodes + hi; a radix sort). IndexError for a node outside
[0, n_nodes); n_nodes <= 2^31. Releases the GIL.)doc");
  py::class_<acts_gnn::InteractionNetworkWeights>(m, "InteractionNetworkKernel",
                                                   R"doc(An Interaction Network's weights for the fused float32 kernel.

InteractionNetworkKernel(node_features, edge_features, hidden, use_sum, use_mean,
node_encoder, edge_encoder, steps, decoder): each MLP a sequence of (weight_t float32 [in,
out], bias [out], norm_weight [out] or None, norm_bias [out] or None, eps, activation name:
ReLU, SiLU, Tanh, Sigmoid or "None") per Linear; steps a sequence of (node net, edge net).
The weights are copied; ValueError for sizes that do not chain as the model's
(acts_gnn.nn.interaction_network) or another activation.)doc")
      .def(py::init(&interactionNetworkFromPy), py::arg("node_features"),
           py::arg("edge_features"), py::arg("hidden"), py::arg("use_sum"), py::arg("use_mean"),
           py::arg("node_encoder"), py::arg("edge_encoder"), py::arg("steps"),
           py::arg("decoder"))
      .def("logits", &interactionNetworkLogitsPy, py::arg("x"), py::arg("edge_index"),
           py::arg("edge_attr") = py::none(), py::arg("bf16") = false, py::arg("n_threads") = 1,
           R"doc(Edge logits float32 [E] for x float32 [N, F], edge_index int64 [2, E] and
edge_attr float32 [E, D] (None when D = 0): the model's forward, up to the order of summation
and ~2 ulp in exp. bf16: the matrix products of widths 16/32/64/128 in bfloat16 with float32
accumulation (AVX-512 BF16; ValueError without it), the rest float32. IndexError for an edge
outside [0, N). Runs on n_threads threads (<= 0: all cores) without the GIL.)doc");
  py::class_<EdgeMlpWeights>(m, "EdgeMlpKernel",
                             R"doc(An edge filter's MLP for the fused float32 kernel.

EdgeMlpKernel(node_features, edge_features, layers): the MLP on [x_src, x_dst, edge_attr]
(2 F + D values) to one logit, its layers as for InteractionNetworkKernel. The weights are
copied; ValueError for sizes that do not chain or another activation.)doc")
      .def(py::init(&edgeMlpFromPy), py::arg("node_features"), py::arg("edge_features"),
           py::arg("layers"))
      .def("logits", &edgeMlpLogitsPy, py::arg("x"), py::arg("edge_index"),
           py::arg("edge_attr") = py::none(), py::arg("bf16") = false, py::arg("n_threads") = 1,
           R"doc(Edge logits float32 [E] for x float32 [N, F], edge_index int64 [2, E] and
edge_attr float32 [E, D] (None when D = 0): the MLP on 64-edge blocks of gathered inputs. bf16
as for InteractionNetworkKernel.logits. IndexError for an edge outside [0, N). Runs on
n_threads threads (<= 0: all cores) without the GIL; the result does not depend on them.)doc");
  m.def("has_bf16_products", &acts_gnn::bf16Supported,
        "Whether this CPU has AVX-512 BF16 (InteractionNetworkKernel.logits(bf16=True)).");
  m.attr("DOUBLET_COLUMNS") =
      py::make_tuple("dr", "dphi", "dz", "deta", "phi_slope", "rphi_slope", "z0");
  m.attr("TRIPLET_COLUMNS") = py::make_tuple("diff_dzdr", "diff_dydx");
}
