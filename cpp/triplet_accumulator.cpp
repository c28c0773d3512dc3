#include "triplet_accumulator.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace acts_gnn {

namespace {

constexpr std::size_t kInitialSlots = 1 << 16;

std::uint64_t mix(std::uint64_t h) {  // the splitmix64 finaliser
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

std::uint64_t hashKey(const std::uint64_t* key) {
  return mix(key[0] ^ mix(key[1] ^ mix(key[2])));
}

bool sameKey(const std::uint64_t* a, const std::uint64_t* b) {
  return a[0] == b[0] && a[1] == b[1] && a[2] == b[2];
}

// Order-independent min / max: equal values keep the one with the sign bit set for the min
// (-0.0 < +0.0) and the one without for the max.
double lower(double a, double b) {
  if (b < a) return b;
  if (b == a && std::signbit(b)) return b;
  return a;
}

double upper(double a, double b) {
  if (b > a) return b;
  if (b == a && !std::signbit(b)) return b;
  return a;
}

}  // namespace

TripletAccumulator::TripletAccumulator() : table_(kInitialSlots, -1), mask_(kInitialSlots - 1) {}

std::size_t TripletAccumulator::slotOf(const std::uint64_t* key) const {
  std::size_t slot = hashKey(key) & mask_;
  while (table_[slot] >= 0 && !sameKey(&keys_[3 * static_cast<std::size_t>(table_[slot])], key)) {
    slot = (slot + 1) & mask_;
  }
  return slot;
}

void TripletAccumulator::grow() {
  table_.assign(2 * table_.size(), -1);
  mask_ = table_.size() - 1;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    std::size_t slot = hashKey(&keys_[3 * i]) & mask_;
    while (table_[slot] >= 0) slot = (slot + 1) & mask_;
    table_[slot] = static_cast<std::int64_t>(i);
  }
}

void TripletAccumulator::add(const std::uint64_t* modules, const double* lo, const double* hi,
                             const std::int64_t* counts, std::size_t n) {
  constexpr std::size_t q = kTripletQuantities;
  for (std::size_t row = 0; row < n; ++row) {
    const std::uint64_t* key = modules + 3 * row;
    const double* rowLo = lo + q * row;
    const double* rowHi = hi + q * row;
    const std::int64_t count = counts != nullptr ? counts[row] : 1;
    samples_ += count;
    const std::size_t slot = slotOf(key);
    if (table_[slot] < 0) {
      table_[slot] = static_cast<std::int64_t>(counts_.size());
      keys_.insert(keys_.end(), key, key + 3);
      lo_.insert(lo_.end(), rowLo, rowLo + q);
      hi_.insert(hi_.end(), rowHi, rowHi + q);
      counts_.push_back(count);
      if (2 * counts_.size() > table_.size()) grow();  // load factor <= 1/2
      continue;
    }
    const auto entry = static_cast<std::size_t>(table_[slot]);
    double* entryLo = &lo_[q * entry];
    double* entryHi = &hi_[q * entry];
    for (std::size_t k = 0; k < q; ++k) {
      entryLo[k] = lower(entryLo[k], rowLo[k]);
      entryHi[k] = upper(entryHi[k], rowHi[k]);
    }
    counts_[entry] += count;
  }
}

void TripletAccumulator::rows(std::uint64_t* modules, double* lo, double* hi,
                              std::int64_t* counts) const {
  constexpr std::size_t q = kTripletQuantities;
  std::vector<std::size_t> order(counts_.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [this](std::size_t a, std::size_t b) {
    return compareTripletKeys(&keys_[3 * a], &keys_[3 * b]) < 0;
  });
  for (std::size_t row = 0; row < order.size(); ++row) {
    const std::size_t entry = order[row];
    std::copy_n(&keys_[3 * entry], 3, modules + 3 * row);
    std::copy_n(&lo_[q * entry], q, lo + q * row);
    std::copy_n(&hi_[q * entry], q, hi + q * row);
    counts[row] = counts_[entry];
  }
}

int compareTripletKeys(const std::uint64_t* a, const std::uint64_t* b) {
  for (int k = 0; k < 3; ++k) {
    if (a[k] != b[k]) return a[k] < b[k] ? -1 : 1;
  }
  return 0;
}

namespace {

void checkSorted(const TripletRowsView& rows, const char* name) {
  for (std::size_t row = 1; row < rows.n; ++row) {
    if (compareTripletKeys(rows.modules + 3 * (row - 1), rows.modules + 3 * row) >= 0) {
      throw std::invalid_argument(std::string(name) +
                                  ": rows are not sorted by module ids, or a module triplet "
                                  "appears twice (row " +
                                  std::to_string(row) + ")");
    }
  }
}

}  // namespace

std::size_t mergedTripletRows(const TripletRowsView& a, const TripletRowsView& b) {
  checkSorted(a, "first rows");
  checkSorted(b, "second rows");
  std::size_t i = 0, j = 0, n = 0;
  while (i < a.n && j < b.n) {
    const int order = compareTripletKeys(a.modules + 3 * i, b.modules + 3 * j);
    i += order <= 0;
    j += order >= 0;
    ++n;
  }
  return n + (a.n - i) + (b.n - j);
}

void mergeTripletRows(const TripletRowsView& a, const TripletRowsView& b, std::uint64_t* modules,
                      double* lo, double* hi, std::int64_t* counts) {
  constexpr std::size_t q = kTripletQuantities;
  std::size_t i = 0, j = 0, out = 0;
  auto copyRow = [&](const TripletRowsView& from, std::size_t row) {
    std::copy_n(from.modules + 3 * row, 3, modules + 3 * out);
    std::copy_n(from.lo + q * row, q, lo + q * out);
    std::copy_n(from.hi + q * row, q, hi + q * out);
    counts[out] = from.counts[row];
    ++out;
  };
  while (i < a.n || j < b.n) {
    const int order = i == a.n ? 1 : j == b.n ? -1 : compareTripletKeys(a.modules + 3 * i,
                                                                         b.modules + 3 * j);
    if (order < 0) {
      copyRow(a, i++);
    } else if (order > 0) {
      copyRow(b, j++);
    } else {
      copyRow(a, i++);
      const std::size_t row = out - 1;
      for (std::size_t k = 0; k < q; ++k) {
        lo[q * row + k] = lower(lo[q * row + k], b.lo[q * j + k]);
        hi[q * row + k] = upper(hi[q * row + k], b.hi[q * j + k]);
      }
      counts[row] += b.counts[j++];
    }
  }
}

}  // namespace acts_gnn
