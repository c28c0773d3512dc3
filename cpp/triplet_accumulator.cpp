#include "triplet_accumulator.hpp"

#include <algorithm>
#include <cmath>

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
  std::copy(keys_.begin(), keys_.end(), modules);
  std::copy(lo_.begin(), lo_.end(), lo);
  std::copy(hi_.begin(), hi_.end(), hi);
  std::copy(counts_.begin(), counts_.end(), counts);
}

}  // namespace acts_gnn
