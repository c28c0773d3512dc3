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

/// write(i, quantities) for each doublet (src[i] -> dst[i]), i < n, in parallel.
template <typename Write>
void forEachDoublet(const double* x, const double* y, const double* z, std::size_t nHits,
                    const std::int64_t* src, const std::int64_t* dst, std::size_t n, int nThreads,
                    Write&& write) {
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
  forEachDoublet(x, y, z, nHits, src, dst, n, nThreads,
                 [out](std::size_t i, const DoubletQuantities& q) {
                   double* row = out + i * kDoubletColumns;
                   row[0] = q.dr;
                   row[1] = q.dphi;
                   row[2] = q.dz;
                   row[3] = q.deta;
                   row[4] = q.phiSlope;
                   row[5] = q.rphiSlope;
                   row[6] = q.z0;
                 });
}

void edgeFeatures(const double* x, const double* y, const double* z, std::size_t nHits,
                  const std::int64_t* src, const std::int64_t* dst, std::size_t n, float* out,
                  int nThreads) {
  forEachDoublet(x, y, z, nHits, src, dst, n, nThreads,
                 [out](std::size_t i, const DoubletQuantities& q) {
                   float* row = out + i * kEdgeFeatureColumns;
                   row[0] = static_cast<float>(q.dr);
                   row[1] = static_cast<float>(q.dphi);
                   row[2] = static_cast<float>(q.dz);
                   row[3] = static_cast<float>(q.deta);
                   row[4] = static_cast<float>(q.phiSlope);
                   row[5] = static_cast<float>(q.rphiSlope);
                 });
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
