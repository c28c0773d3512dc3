#include "module_map.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "geometry_kernels.hpp"

namespace acts_gnn {

namespace {

/// Window searches are used only where they provably keep every passing pair (see below).
constexpr double kWindowLimit = 3.14159265358979323846 - 1e-9;

template <typename Cut>
inline bool inside(double value, const Cut* minMax) {
  return value >= static_cast<double>(minMax[0]) && value <= static_cast<double>(minMax[1]);
}

/// A doublet that passed its cuts: its hits and only what the triplet stage reads (64 bytes:
/// the candidates of a MU = 200 event fill ~40 MB, so their size sets the time).
struct DoubletEdge {
  std::int64_t src;
  std::int64_t dst;
  double z0, dphi, phiSlope, deta, dzdr, dydx;
};

inline DoubletEdge doubletEdge(std::int64_t src, std::int64_t dst, const DoubletQuantities& q) {
  return DoubletEdge{src, dst, q.z0, q.dphi, q.phiSlope, q.deta, q.dzdr, q.dydx};
}

/// The four cut quantities of a doublet against [min, max] pairs in `cuts` (8 values).
/// Module maps follow ModuleMapGraph/acorn: their deta is eta(inner) - eta(outer).
/// `Doublet`: DoubletQuantities, or a kept DoubletEdge (the same members, the same values).
template <typename Doublet, typename Cut>
inline bool passesDoubletCuts(const Doublet& d, const Cut* cuts) {
  return inside(d.z0, cuts) && inside(d.dphi, cuts + 2) && inside(d.phiSlope, cuts + 4) &&
         inside(-d.deta, cuts + 6);
}

/// diff_dydx of a triplet as ModuleMapGraph/acorn define it (see tripletFeatures).
inline double diffDydx(const DoubletEdge& a, const DoubletEdge& b) { return -a.dydx - b.dydx; }

}  // namespace

template <typename Cut>
ModuleMapGraph buildModuleMapGraph(const double* x, const double* y, const double* z,
                                   const std::int64_t* hitModule, std::size_t nHits,
                                   const ModuleMapView<Cut>& map, int nThreads) {
  // Hits grouped by module (counting sort), coordinates precomputed once per hit.
  std::vector<std::int64_t> moduleStart(map.nModules + 1, 0);
  for (std::size_t i = 0; i < nHits; ++i) {
    if (hitModule[i] >= 0) {
      ++moduleStart[hitModule[i] + 1];
    }
  }
  std::partial_sum(moduleStart.begin(), moduleStart.end(), moduleStart.begin());
  std::vector<std::int64_t> fill(moduleStart.begin(), moduleStart.end() - 1);
  std::vector<std::int64_t> hitsByModule(moduleStart.back());
  for (std::size_t i = 0; i < nHits; ++i) {
    if (hitModule[i] >= 0) {
      hitsByModule[fill[hitModule[i]]++] = static_cast<std::int64_t>(i);
    }
  }
  std::vector<HitCoordinates> coords(nHits);
  parallelFor(nHits, nThreads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      coords[i] = hitCoordinates(x[i], y[i], z[i]);
    }
  });

  // Within each module, order hits by phi unwrapped around the module's first hit, so the
  // doublet stage can binary-search the dphi window instead of trying every pair. span[m] is
  // the largest |phi - reference| in module m.
  std::vector<double> refPhi(map.nModules, 0.0);
  std::vector<double> span(map.nModules, 0.0);
  std::vector<double> unwrapped(hitsByModule.size());
  std::vector<std::pair<double, std::int64_t>> keyed;
  for (std::size_t m = 0; m < map.nModules; ++m) {
    const std::int64_t b = moduleStart[m];
    const std::int64_t e = moduleStart[m + 1];
    if (b == e) {
      continue;
    }
    refPhi[m] = coords[hitsByModule[b]].phi;
    keyed.resize(static_cast<std::size_t>(e - b));
    for (std::int64_t i = b; i < e; ++i) {
      const double u = wrapPhi(coords[hitsByModule[i]].phi - refPhi[m]);
      keyed[i - b] = {u, hitsByModule[i]};
      span[m] = std::max(span[m], std::abs(u));
    }
    std::sort(keyed.begin(), keyed.end());
    for (std::int64_t i = b; i < e; ++i) {
      unwrapped[i] = keyed[i - b].first;
      hitsByModule[i] = keyed[i - b].second;
    }
  }

  // Doublet stage: every hit pair on every connected module pair, against the doublet cuts.
  // Each thread takes a contiguous slice of doublets; concatenating the slices in thread order
  // keeps the edges sorted by doublet index.
  const std::size_t doubletThreads = resolveThreads(map.nDoublets, nThreads, 1024);
  std::vector<std::vector<DoubletEdge>> sliceEdges(doubletThreads);
  std::vector<std::int64_t> doubletCount(map.nDoublets, 0);
  parallelSlices(map.nDoublets, doubletThreads, [&](std::size_t t, std::size_t d0, std::size_t d1) {
    auto& out = sliceEdges[t];
    for (std::size_t d = d0; d < d1; ++d) {
      const std::int32_t m1 = map.doubletModules[2 * d];
      const std::int32_t m2 = map.doubletModules[2 * d + 1];
      if (moduleStart[m1] == moduleStart[m1 + 1] || moduleStart[m2] == moduleStart[m2 + 1]) {
        continue;  // an empty module (most of them at low pile-up): no doublets
      }
      const Cut* cuts = map.doubletCuts + d * kDoubletCutColumns;
      const std::size_t before = out.size();
      // dphi window [cuts[2], cuts[3]] around each inner hit. In module m2's unwrapped frame
      // it is exact (a superset of the passing hits) when half + 2 * span < pi; else try all.
      const double lo = static_cast<double>(cuts[2]);
      const double hi = static_cast<double>(cuts[3]);
      const double half = 0.5 * (hi - lo) + 1e-12;
      const bool windowed = half + 2.0 * span[m2] < kWindowLimit;
      const auto first2 = unwrapped.begin() + moduleStart[m2];
      const auto last2 = unwrapped.begin() + moduleStart[m2 + 1];
      for (std::int64_t i = moduleStart[m1]; i < moduleStart[m1 + 1]; ++i) {
        const std::int64_t h1 = hitsByModule[i];
        std::int64_t jBegin = moduleStart[m2];
        std::int64_t jEnd = moduleStart[m2 + 1];
        if (windowed) {
          const double center = wrapPhi(coords[h1].phi + 0.5 * (lo + hi) - refPhi[m2]);
          jBegin = std::lower_bound(first2, last2, center - half) - unwrapped.begin();
          jEnd = std::upper_bound(first2, last2, center + half) - unwrapped.begin();
        }
        for (std::int64_t j = jBegin; j < jEnd; ++j) {
          const std::int64_t h2 = hitsByModule[j];
          if (h1 == h2) {
            continue;
          }
          const DoubletQuantities q = doubletQuantities(coords[h1], coords[h2]);
          if (passesDoubletCuts(q, cuts)) {
            out.push_back(doubletEdge(h1, h2, q));
          }
        }
      }
      // Canonical order inside a doublet: by inner hit, then outer hit (as the torch path).
      std::sort(out.begin() + before, out.end(), [](const DoubletEdge& a, const DoubletEdge& b) {
        return a.src < b.src || (a.src == b.src && a.dst < b.dst);
      });
      doubletCount[d] = static_cast<std::int64_t>(out.size() - before);
    }
  });
  std::vector<std::int64_t> doubletStart(map.nDoublets + 1, 0);
  std::partial_sum(doubletCount.begin(), doubletCount.end(), doubletStart.begin() + 1);
  std::vector<DoubletEdge> edges = std::move(sliceEdges[0]);  // one thread: no copy
  edges.reserve(static_cast<std::size_t>(doubletStart.back()));
  for (std::size_t t = 1; t < sliceEdges.size(); ++t) {
    edges.insert(edges.end(), sliceEdges[t].begin(), sliceEdges[t].end());
    std::vector<DoubletEdge>().swap(sliceEdges[t]);
  }

  // Triplet stage: an edge survives if it is the (m1,m2) or (m2,m3) leg of at least one
  // triplet whose legs share the middle hit and pass the triplet's cuts. Thread 0 marks
  // `keep`; the others mark their own buffers, merged afterwards.
  std::vector<unsigned char> keep(edges.size(), 0);
  const std::size_t tripletThreads = resolveThreads(map.nTriplets, nThreads, 4096);
  std::vector<std::vector<unsigned char>> otherKeep(tripletThreads - 1);
  parallelSlices(map.nTriplets, tripletThreads, [&](std::size_t thread, std::size_t t0, std::size_t t1) {
    unsigned char* flags = keep.data();
    if (thread > 0) {
      otherKeep[thread - 1].assign(edges.size(), 0);
      flags = otherKeep[thread - 1].data();
    }
    for (std::size_t t = t0; t < t1; ++t) {
      const std::int32_t d12 = map.tripletDoublets[2 * t];
      const std::int32_t d23 = map.tripletDoublets[2 * t + 1];
      if (doubletStart[d12] == doubletStart[d12 + 1] ||
          doubletStart[d23] == doubletStart[d23 + 1]) {
        continue;  // a leg without candidates
      }
      const Cut* c12 = map.cuts12 + t * kDoubletCutColumns;
      const Cut* c23 = map.cuts23 + t * kDoubletCutColumns;
      const Cut* dzdr = map.diffDzdr + 2 * t;
      const Cut* dydx = map.diffDydx + 2 * t;
      // The (m2, m3) candidates are sorted by inner hit: those starting at ea's outer hit
      // are one contiguous run, found by binary search.
      const DoubletEdge* first23 = edges.data() + doubletStart[d23];
      const DoubletEdge* last23 = edges.data() + doubletStart[d23 + 1];
      for (std::int64_t a = doubletStart[d12]; a < doubletStart[d12 + 1]; ++a) {
        const DoubletEdge& ea = edges[a];
        if (!passesDoubletCuts(ea, c12)) {
          continue;
        }
        const DoubletEdge* eb = std::lower_bound(
            first23, last23, ea.dst,
            [](const DoubletEdge& e, std::int64_t hit) { return e.src < hit; });
        for (; eb != last23 && eb->src == ea.dst; ++eb) {
          if (!passesDoubletCuts(*eb, c23)) {
            continue;
          }
          if (inside(ea.dzdr - eb->dzdr, dzdr) && inside(diffDydx(ea, *eb), dydx)) {
            flags[a] = 1;
            flags[eb - edges.data()] = 1;
          }
        }
      }
    }
  });
  for (const auto& own : otherKeep) {
    for (std::size_t i = 0; i < own.size(); ++i) {
      keep[i] |= own[i];
    }
  }

  ModuleMapGraph graph;
  graph.doubletEdges = edges.size();
  const std::size_t kept = static_cast<std::size_t>(std::count(keep.begin(), keep.end(), 1));
  graph.src.reserve(kept);
  graph.dst.reserve(kept);
  for (std::size_t i = 0; i < edges.size(); ++i) {
    if (keep[i]) {
      graph.src.push_back(edges[i].src);
      graph.dst.push_back(edges[i].dst);
    }
  }
  return graph;
}

template ModuleMapGraph buildModuleMapGraph<double>(const double*, const double*, const double*,
                                                    const std::int64_t*, std::size_t,
                                                    const ModuleMapView<double>&, int);
template ModuleMapGraph buildModuleMapGraph<float>(const double*, const double*, const double*,
                                                   const std::int64_t*, std::size_t,
                                                   const ModuleMapView<float>&, int);

MapDoublets deriveMapDoublets(const std::int32_t* triplets, std::size_t nTriplets,
                              const double* cuts12, const double* cuts23) {
  // A leg as one sortable key: (inner module << 32) | outer module.
  auto key = [](std::int32_t inner, std::int32_t outer) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(inner)) << 32) |
           static_cast<std::uint32_t>(outer);
  };
  std::vector<std::uint64_t> legs(2 * nTriplets);
  for (std::size_t t = 0; t < nTriplets; ++t) {
    legs[2 * t] = key(triplets[3 * t], triplets[3 * t + 1]);
    legs[2 * t + 1] = key(triplets[3 * t + 1], triplets[3 * t + 2]);
  }
  std::vector<std::uint64_t> keys(legs);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());

  MapDoublets out;
  const std::size_t nDoublets = keys.size();
  out.modules.resize(2 * nDoublets);
  for (std::size_t d = 0; d < nDoublets; ++d) {
    out.modules[2 * d] = static_cast<std::int32_t>(keys[d] >> 32);
    out.modules[2 * d + 1] = static_cast<std::int32_t>(keys[d] & 0xffffffffULL);
  }
  out.tripletDoublets.resize(2 * nTriplets);
  out.cuts.resize(kDoubletCutColumns * nDoublets);
  for (std::size_t d = 0; d < nDoublets; ++d) {
    for (std::size_t k = 0; k < kDoubletCutQuantities; ++k) {
      out.cuts[kDoubletCutColumns * d + 2 * k] = INFINITY;
      out.cuts[kDoubletCutColumns * d + 2 * k + 1] = -INFINITY;
    }
  }
  for (std::size_t leg = 0; leg < 2 * nTriplets; ++leg) {
    const auto d = static_cast<std::size_t>(
        std::lower_bound(keys.begin(), keys.end(), legs[leg]) - keys.begin());
    out.tripletDoublets[leg] = static_cast<std::int32_t>(d);
    const double* ranges = (leg % 2 == 0 ? cuts12 : cuts23) + kDoubletCutColumns * (leg / 2);
    double* cuts = &out.cuts[kDoubletCutColumns * d];
    for (std::size_t k = 0; k < kDoubletCutQuantities; ++k) {
      cuts[2 * k] = std::min(cuts[2 * k], ranges[2 * k]);
      cuts[2 * k + 1] = std::max(cuts[2 * k + 1], ranges[2 * k + 1]);
    }
  }
  return out;
}

}  // namespace acts_gnn
