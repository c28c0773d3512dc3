// Accumulating module-map triplet samples: per module triplet, occurrence counts and the
// [min, max] range of each cut quantity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace acts_gnn {

/// Cut quantities per module triplet: 4 of the (1,2) leg, 4 of the (2,3) leg, diff_dzdr,
/// diff_dydx (see acts_gnn/graph/module_map/map.py).
inline constexpr std::size_t kTripletQuantities = 10;

/// An open-addressing hash table from (module id, module id, module id) to the running
/// range and count of that module triplet. Adding is exact and independent of the order of
/// the rows (min / max and integer sums; of two equal zeros, -0.0 is the min and +0.0 the
/// max), so maps built from different chunks of events and merged equal one built at once.
class TripletAccumulator {
 public:
  TripletAccumulator();

  /// Add `n` rows: module ids [n, 3], lower and upper values [n, 10], counts [n].
  /// `hi` may equal `lo` (single samples); `counts == nullptr` counts each row once.
  void add(const std::uint64_t* modules, const double* lo, const double* hi,
           const std::int64_t* counts, std::size_t n);

  /// Number of distinct module triplets.
  std::size_t size() const { return counts_.size(); }
  /// Sum of the counts added.
  std::int64_t samples() const { return samples_; }

  /// Write every triplet, sorted by its module ids (lexicographically): module ids [U, 3],
  /// lower and upper values [U, 10], counts [U].
  void rows(std::uint64_t* modules, double* lo, double* hi, std::int64_t* counts) const;

 private:
  std::size_t slotOf(const std::uint64_t* key) const;
  void grow();

  std::vector<std::uint64_t> keys_;  // [U, 3]
  std::vector<double> lo_, hi_;      // [U, 10]
  std::vector<std::int64_t> counts_;  // [U]
  std::vector<std::int64_t> table_;  // entry index per slot, -1 when empty
  std::size_t mask_ = 0;
  std::int64_t samples_ = 0;
};

/// Rows of accumulated triplets (module ids [n, 3], lo and hi [n, 10], counts [n]), read-only.
struct TripletRowsView {
  const std::uint64_t* modules;
  const double* lo;
  const double* hi;
  const std::int64_t* counts;
  std::size_t n;
};

/// Module-id order of two rows: -1, 0 or 1 as `a` sorts before, with or after `b`.
int compareTripletKeys(const std::uint64_t* a, const std::uint64_t* b);

/// Number of rows of the union of `a` and `b` (each sorted by module ids, no id twice;
/// std::invalid_argument otherwise): what mergeTripletRows writes.
std::size_t mergedTripletRows(const TripletRowsView& a, const TripletRowsView& b);

/// The union of `a` and `b` (as mergedTripletRows requires), sorted: rows present in both are
/// combined exactly as TripletAccumulator::add combines them. The outputs hold
/// mergedTripletRows(a, b) rows.
void mergeTripletRows(const TripletRowsView& a, const TripletRowsView& b, std::uint64_t* modules,
                      double* lo, double* hi, std::int64_t* counts);

}  // namespace acts_gnn
