// A minimal static-partition parallel for, header-only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace acts_gnn {

inline constexpr std::size_t kMinItemsPerThread = 1 << 15;

template <typename Body>
void parallelFor(std::size_t n, int nThreads, Body&& body) {
  std::size_t threads = nThreads > 0 ? static_cast<std::size_t>(nThreads)
                                     : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min(threads, std::max<std::size_t>(1, n / kMinItemsPerThread));
  if (threads <= 1) {
    body(std::size_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  const std::size_t chunk = (n + threads - 1) / threads;
  for (std::size_t t = 1; t < threads; ++t) {
    const std::size_t begin = std::min(n, t * chunk);
    const std::size_t end = std::min(n, begin + chunk);
    pool.emplace_back([&body, begin, end] { body(begin, end); });
  }
  body(std::size_t{0}, std::min(n, chunk));
  for (auto& th : pool) {
    th.join();
  }
}

}  // namespace acts_gnn
