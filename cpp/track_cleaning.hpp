// Track cleaning on CPU: removing the hits of a track candidate that do not lie on its helix.
//
// A candidate is a list of hit rows; the hits are in mm, the field along z. Each step fits,
// leaving out each remaining hit in turn, a circle in the transverse plane (Kasa's algebraic
// fit) and a straight line in (arc length, z) to the other remaining hits. The hit whose
// removal leaves the most consistent others (the least sum of their squared distances from
// their own circle and line, each over its tolerance) is removed if its own distance from
// the others' circle or line exceeds the tolerance; then the next step, up to `maxRemoved`
// hits and never below `minKept` hits. Ranking by what is left, not by the left-out hit's
// own distance, keeps one wrong hit from pulling the others' fits off (a kink in a straight
// track makes every left-out circle bend). Serial per candidate, no global state,
// deterministic (ties: the earlier hit in the candidate).
#pragma once

#include <cstddef>
#include <cstdint>

namespace acts_gnn {

struct HelixCleaningCuts {
  double tolTransverse;  // mm: largest distance of a hit from the others' circle
  double tolLongitudinal;  // mm: largest distance from the others' (arc length, z) line
  int maxRemoved;  // most hits removed from one candidate
  int minKept;  // never leave fewer hits than this (and never fewer than 4)
};

/// Writes keep[k] for every hit k of every candidate: candidate c is hits[offsets[c] ..
/// offsets[c + 1]) (rows into x, y, z); keep[k] = 0 for the removed hits, 1 otherwise.
/// Parallel over candidates with `nThreads` threads (<= 0: all cores).
void removeHelixOutliers(const double* x, const double* y, const double* z,
                         const std::int64_t* offsets, std::size_t nCandidates,
                         const std::int64_t* hits, const HelixCleaningCuts& cuts, int nThreads,
                         std::uint8_t* keep);

}  // namespace acts_gnn
