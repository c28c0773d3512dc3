// Module-map graph construction on CPU: doublet cuts, then triplet cuts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace acts_gnn {

/// Number of cut quantities per doublet: z0, dphi, phi_slope, deta (each as min, max).
inline constexpr std::size_t kDoubletCutQuantities = 4;
inline constexpr std::size_t kDoubletCutColumns = 2 * kDoubletCutQuantities;

/// A module map as flat, read-only arrays (owned by the caller). `Cut` is the type of its
/// ranges: double, or float where every range is a float (a compact map's are), which halves
/// the memory graph construction holds; either way the doublet and triplet quantities are
/// computed and compared in double, so both give the same graph for the same values.
template <typename Cut>
struct ModuleMapView {
  std::size_t nModules = 0;
  std::size_t nDoublets = 0;
  const std::int32_t* doubletModules = nullptr;  // [D, 2] module indices, sorted by (m1, m2)
  const Cut* doubletCuts = nullptr;              // [D, 8] min/max of z0, dphi, phi_slope, deta
  std::size_t nTriplets = 0;
  const std::int32_t* tripletDoublets = nullptr;  // [T, 2] doublet index of (m1,m2), (m2,m3)
  const Cut* cuts12 = nullptr;                    // [T, 8] like doubletCuts, for (m1, m2)
  const Cut* cuts23 = nullptr;                    // [T, 8] like doubletCuts, for (m2, m3)
  const Cut* diffDzdr = nullptr;                  // [T, 2] min, max
  const Cut* diffDydx = nullptr;                  // [T, 2] min, max
};

struct ModuleMapGraph {
  std::vector<std::int64_t> src;  // hit indices of the kept edges (inner hit)
  std::vector<std::int64_t> dst;  // (outer hit)
  std::size_t doubletEdges = 0;   // edges that passed the doublet cuts, before triplet cuts
};

/// Build the graph of one event. `hitModule[i]` is the map's index of hit i's module, or -1
/// for a hit whose module is not in the map (it gets no edges). Coordinates in mm.
/// Edges come out ordered by doublet, then inner hit index, then outer hit index; each
/// appears once.
/// Instantiated for Cut = double and Cut = float.
template <typename Cut>
ModuleMapGraph buildModuleMapGraph(const double* x, const double* y, const double* z,
                                   const std::int64_t* hitModule, std::size_t nHits,
                                   const ModuleMapView<Cut>& map, int nThreads);

/// The doublets of a map's triplets: each distinct (m1, m2) and (m2, m3) leg once.
struct MapDoublets {
  std::vector<std::int32_t> modules;          // [D, 2] module indices, sorted by (m1, m2)
  std::vector<std::int32_t> tripletDoublets;  // [T, 2] doublet index of (m1, m2), (m2, m3)
  std::vector<double> cuts;                   // [D, 8]: the union of the ranges of its legs
};

/// Derive the doublets of `nTriplets` triplets (module indices [T, 3], each >= 0) with their
/// leg ranges `cuts12`, `cuts23` ([T, 8], min / max pairs as in ModuleMapView): a doublet's
/// cuts are the union of the ranges of every triplet leg on it.
MapDoublets deriveMapDoublets(const std::int32_t* triplets, std::size_t nTriplets,
                              const double* cuts12, const double* cuts23);

}  // namespace acts_gnn
