// Minimal static-partition parallel loops, header-only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace acts_gnn {

inline constexpr std::size_t kMinItemsPerThread = 1 << 15;

/// Number of threads `nThreads` resolves to (<= 0: all hardware threads), capped so each
/// thread gets at least `minPerThread` of the `n` items.
inline std::size_t resolveThreads(std::size_t n, int nThreads, std::size_t minPerThread) {
  std::size_t threads = nThreads > 0 ? static_cast<std::size_t>(nThreads)
                                     : std::max(1u, std::thread::hardware_concurrency());
  return std::max<std::size_t>(1, std::min(threads, n / std::max<std::size_t>(1, minPerThread)));
}

/// Run `body(thread, begin, end)` on contiguous, ordered slices of [0, n), one per thread;
/// thread 0 is the calling thread. Returns the number of threads used.
template <typename Body>
std::size_t parallelSlices(std::size_t n, std::size_t threads, Body&& body) {
  if (threads <= 1) {
    body(std::size_t{0}, std::size_t{0}, n);
    return 1;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  const std::size_t chunk = (n + threads - 1) / threads;
  for (std::size_t t = 1; t < threads; ++t) {
    const std::size_t begin = std::min(n, t * chunk);
    const std::size_t end = std::min(n, begin + chunk);
    pool.emplace_back([&body, t, begin, end] { body(t, begin, end); });
  }
  body(std::size_t{0}, std::size_t{0}, std::min(n, chunk));
  for (auto& th : pool) {
    th.join();
  }
  return threads;
}

/// Run `body(begin, end)` over [0, n) split across threads (small ranges: calling thread).
template <typename Body>
void parallelFor(std::size_t n, int nThreads, Body&& body) {
  parallelSlices(n, resolveThreads(n, nThreads, kMinItemsPerThread),
                 [&body](std::size_t, std::size_t begin, std::size_t end) { body(begin, end); });
}

}  // namespace acts_gnn
