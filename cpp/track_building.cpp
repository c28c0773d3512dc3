#include "track_building.hpp"

#include <stdexcept>
#include <string>

namespace acts_gnn {

namespace {

constexpr std::int64_t kNone = -1;

/// Whether edge a beats the current best edge b (kNone: no best yet). Edges are visited in
/// increasing index order, so a strict comparison gives ties to the lower index.
inline bool beats(const double* scores, std::size_t a, std::int64_t b) {
  return b == kNone || scores[a] > scores[static_cast<std::size_t>(b)];
}

/// Best out-edge and best in-edge of every node among the edges with take(e) true.
template <typename Take>
void bestEdges(std::size_t nNodes, const std::int64_t* src, const std::int64_t* dst,
               const double* scores, std::size_t nEdges, Take&& take,
               std::vector<std::int64_t>& bestOut, std::vector<std::int64_t>& bestIn) {
  bestOut.assign(nNodes, kNone);
  bestIn.assign(nNodes, kNone);
  for (std::size_t e = 0; e < nEdges; ++e) {
    if (!take(e)) {
      continue;
    }
    auto& out = bestOut[static_cast<std::size_t>(src[e])];
    if (beats(scores, e, out)) {
      out = static_cast<std::int64_t>(e);
    }
    auto& in = bestIn[static_cast<std::size_t>(dst[e])];
    if (beats(scores, e, in)) {
      in = static_cast<std::int64_t>(e);
    }
  }
}

/// Number chains and loops given next/prev links (each node at most one of each).
Chains labelLinks(const std::vector<std::int64_t>& next, const std::vector<std::int64_t>& prev,
                  std::vector<std::uint8_t> edgeUsed) {
  const std::size_t n = next.size();
  Chains out;
  out.label.assign(n, kNone);
  out.position.assign(n, kNone);
  out.edgeUsed = std::move(edgeUsed);
  std::int64_t chain = 0;
  // Open chains: start where there is no in-edge.
  for (std::size_t u = 0; u < n; ++u) {
    if (prev[u] != kNone || next[u] == kNone) {
      continue;
    }
    std::int64_t pos = 0;
    for (std::int64_t v = static_cast<std::int64_t>(u); v != kNone; v = next[v]) {
      out.label[v] = chain;
      out.position[v] = pos++;
    }
    ++chain;
  }
  // Closed loops: every node has both links; start at the lowest index.
  for (std::size_t u = 0; u < n; ++u) {
    if (out.label[u] != kNone || next[u] == kNone) {
      continue;
    }
    std::int64_t pos = 0;
    std::int64_t v = static_cast<std::int64_t>(u);
    do {
      out.label[v] = chain;
      out.position[v] = pos++;
      v = next[v];
    } while (v != static_cast<std::int64_t>(u));
    ++chain;
  }
  out.nChains = chain;
  return out;
}

}  // namespace

void junctionRemoval(std::size_t nNodes, const std::int64_t* src, const std::int64_t* dst,
                     const double* scores, std::size_t nEdges, std::uint8_t* keep) {
  std::vector<std::int64_t> bestOut, bestIn;
  bestEdges(nNodes, src, dst, scores, nEdges, [](std::size_t) { return true; }, bestOut, bestIn);
  for (std::size_t e = 0; e < nEdges; ++e) {
    const auto self = static_cast<std::int64_t>(e);
    keep[e] = bestOut[static_cast<std::size_t>(src[e])] == self &&
              bestIn[static_cast<std::size_t>(dst[e])] == self;
  }
}

Chains chainLabels(std::size_t nNodes, const std::int64_t* src, const std::int64_t* dst,
                   std::size_t nEdges, const std::uint8_t* use) {
  std::vector<std::int64_t> next(nNodes, kNone), prev(nNodes, kNone);
  std::vector<std::uint8_t> used(nEdges, 0);
  for (std::size_t e = 0; e < nEdges; ++e) {
    if ((use != nullptr && use[e] == 0) || src[e] == dst[e]) {
      continue;
    }
    auto& n = next[static_cast<std::size_t>(src[e])];
    auto& p = prev[static_cast<std::size_t>(dst[e])];
    if (n != kNone || p != kNone) {
      const bool twoOut = n != kNone;
      throw std::invalid_argument(
          "the edges are not junction-free: node " + std::to_string(twoOut ? src[e] : dst[e]) +
          " has two " + (twoOut ? "out" : "in") + "-edges (edge " + std::to_string(e) + ")");
    }
    n = dst[e];
    p = src[e];
    used[e] = 1;
  }
  return labelLinks(next, prev, std::move(used));
}

Chains walkthrough(std::size_t nNodes, const std::int64_t* src, const std::int64_t* dst,
                   const double* scores, std::size_t nEdges, double cutHigh, double cutLow) {
  if (!(cutLow <= cutHigh)) {
    throw std::invalid_argument("walkthrough needs cut_low <= cut_high");
  }
  // (1) Junction-free chains of the high-score edges.
  std::vector<std::int64_t> bestOut, bestIn;
  bestEdges(
      nNodes, src, dst, scores, nEdges,
      [&](std::size_t e) { return src[e] != dst[e] && scores[e] > cutHigh; }, bestOut, bestIn);
  std::vector<std::int64_t> next(nNodes, kNone), prev(nNodes, kNone);
  std::vector<std::uint8_t> used(nEdges, 0);
  for (std::size_t u = 0; u < nNodes; ++u) {
    const std::int64_t e = bestOut[u];
    if (e != kNone && bestIn[static_cast<std::size_t>(dst[e])] == e) {
      next[u] = dst[e];
      prev[static_cast<std::size_t>(dst[e])] = static_cast<std::int64_t>(u);
      used[static_cast<std::size_t>(e)] = 1;
    }
  }
  // (2) Candidate continuations: free end -> free start, counted per node (saturating at 2).
  std::vector<std::uint8_t> candOut(nNodes, 0), candIn(nNodes, 0);
  auto isCandidate = [&](std::size_t e) {
    return used[e] == 0 && src[e] != dst[e] && scores[e] > cutLow &&
           next[static_cast<std::size_t>(src[e])] == kNone &&
           prev[static_cast<std::size_t>(dst[e])] == kNone;
  };
  for (std::size_t e = 0; e < nEdges; ++e) {
    if (isCandidate(e)) {
      auto& o = candOut[static_cast<std::size_t>(src[e])];
      auto& i = candIn[static_cast<std::size_t>(dst[e])];
      o = o < 2 ? o + 1 : 2;
      i = i < 2 ? i + 1 : 2;
    }
  }
  // Mutually unique candidates share no endpoint, so adding them all keeps the graph
  // junction-free; decide first, then link, so that the order of edges does not matter.
  std::vector<std::size_t> added;
  for (std::size_t e = 0; e < nEdges; ++e) {
    if (isCandidate(e) && candOut[static_cast<std::size_t>(src[e])] == 1 &&
        candIn[static_cast<std::size_t>(dst[e])] == 1) {
      added.push_back(e);
    }
  }
  for (const std::size_t e : added) {
    next[static_cast<std::size_t>(src[e])] = dst[e];
    prev[static_cast<std::size_t>(dst[e])] = src[e];
    used[e] = 1;
  }
  // (3) Chains and loops.
  return labelLinks(next, prev, std::move(used));
}

}  // namespace acts_gnn
