#include "geometry_kernels.hpp"

#include <cmath>
#include <vector>

namespace acts_gnn {

namespace {
constexpr double kPi = 3.14159265358979323846;
}  // namespace

double pseudoRapidity(double r, double z) {
  // eta = -ln tan(theta/2) = asinh(z / r); on the beam line (r == 0) use a large finite value.
  if (r > 0.0) {
    return std::asinh(z / r);
  }
  return z >= 0.0 ? 1e3 : -1e3;
}

HitCoordinates hitCoordinates(double x, double y, double z) {
  const double r = std::hypot(x, y);
  return HitCoordinates{x, y, z, r, std::atan2(y, x), pseudoRapidity(r, z)};
}

DoubletQuantities doubletQuantities(const HitCoordinates& a, const HitCoordinates& b) {
  DoubletQuantities q{};
  q.dr = b.r - a.r;
  q.dz = b.z - a.z;
  q.dphi = wrapPhi(b.phi - a.phi);
  q.deta = b.eta - a.eta;
  q.phiSlope = ratioOrZero(q.dphi, q.dr);
  q.rphiSlope = 0.5 * (a.r + b.r) * q.phiSlope;
  q.dzdr = ratioOrZero(q.dz, q.dr);
  q.z0 = a.z - a.r * q.dzdr;
  q.dydx = ratioOrZero(b.y - a.y, b.x - a.x);
  return q;
}

double wrapPhi(double dphi) {
  dphi = std::fmod(dphi + kPi, 2.0 * kPi);
  if (dphi < 0.0) {
    dphi += 2.0 * kPi;
  }
  return dphi - kPi;
}

namespace {

/// Row i < n of `out` [n, Columns]: the first Columns of (dr, dphi, dz, deta, phi_slope,
/// rphi_slope, z0) of doublet src[i] -> dst[i], as T, in parallel.
template <typename T, std::size_t Columns>
void writeDoubletRows(const double* x, const double* y, const double* z, std::size_t nHits,
                      const std::int64_t* src, const std::int64_t* dst, std::size_t n, T* out,
                      int nThreads) {
  static_assert(Columns <= kDoubletColumns);
  const auto write = [out](std::size_t i, const DoubletQuantities& q) {
    const double values[kDoubletColumns] = {q.dr,       q.dphi,      q.dz, q.deta,
                                            q.phiSlope, q.rphiSlope, q.z0};
    T* row = out + i * Columns;
    for (std::size_t c = 0; c < Columns; ++c) {
      row[c] = static_cast<T>(values[c]);
    }
  };
  if (n < nHits) {  // few doublets: their hits' coordinates where needed
    parallelFor(n, nThreads, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) {
        const std::int64_t s = src[i];
        const std::int64_t d = dst[i];
        write(i, doubletQuantities(hitCoordinates(x[s], y[s], z[s]),
                                   hitCoordinates(x[d], y[d], z[d])));
      }
    });
    return;
  }
  // each hit's r, phi, eta once (~200 doublets per hit in a metric-learning graph), then per
  // doublet only differences and ratios: the same values, without the per-doublet atan2/asinh
  std::vector<HitCoordinates> hits(nHits);
  parallelFor(nHits, nThreads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t h = begin; h < end; ++h) {
      hits[h] = hitCoordinates(x[h], y[h], z[h]);
    }
  });
  parallelFor(n, nThreads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      write(i, doubletQuantities(hits[static_cast<std::size_t>(src[i])],
                                 hits[static_cast<std::size_t>(dst[i])]));
    }
  });
}

}  // namespace

void doubletFeatures(const double* x, const double* y, const double* z, std::size_t nHits,
                     const std::int64_t* src, const std::int64_t* dst, std::size_t n, double* out,
                     int nThreads) {
  writeDoubletRows<double, kDoubletColumns>(x, y, z, nHits, src, dst, n, out, nThreads);
}

void edgeFeatures(const double* x, const double* y, const double* z, std::size_t nHits,
                  const std::int64_t* src, const std::int64_t* dst, std::size_t n, float* out,
                  int nThreads) {
  writeDoubletRows<float, kEdgeFeatureColumns>(x, y, z, nHits, src, dst, n, out, nThreads);
}

void tripletFeatures(const double* x, const double* y, const double* z, const std::int64_t* a,
                     const std::int64_t* b, const std::int64_t* c, std::size_t n, double* out,
                     int nThreads) {
  parallelFor(n, nThreads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      const HitCoordinates ha = hitCoordinates(x[a[i]], y[a[i]], z[a[i]]);
      const HitCoordinates hb = hitCoordinates(x[b[i]], y[b[i]], z[b[i]]);
      const HitCoordinates hc = hitCoordinates(x[c[i]], y[c[i]], z[c[i]]);
      const DoubletQuantities ab = doubletQuantities(ha, hb);
      const DoubletQuantities bc = doubletQuantities(hb, hc);
      double* row = out + i * kTripletColumns;
      row[0] = ab.dzdr - bc.dzdr;
      row[1] = -ab.dydx - bc.dydx;  // the ModuleMapGraph / acorn definition
    }
  });
}

}  // namespace acts_gnn
