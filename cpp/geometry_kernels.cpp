#include "geometry_kernels.hpp"

#include <cmath>

namespace acts_gnn {

namespace {
constexpr double kPi = 3.14159265358979323846;

inline double ratioOrZero(double num, double den) { return den != 0.0 ? num / den : 0.0; }

inline double pseudoRapidity(double r, double z) {
  // eta = -ln tan(theta/2) = asinh(z / r); on the beam line (r == 0) use a large finite value.
  if (r > 0.0) {
    return std::asinh(z / r);
  }
  return z >= 0.0 ? 1e3 : -1e3;
}
}  // namespace

double wrapPhi(double dphi) {
  dphi = std::fmod(dphi + kPi, 2.0 * kPi);
  if (dphi < 0.0) {
    dphi += 2.0 * kPi;
  }
  return dphi - kPi;
}

void doubletFeatures(const double* x, const double* y, const double* z, const std::int64_t* src,
                     const std::int64_t* dst, std::size_t n, double* out, int nThreads) {
  parallelFor(n, nThreads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      const std::int64_t s = src[i];
      const std::int64_t d = dst[i];
      const double r1 = std::hypot(x[s], y[s]);
      const double r2 = std::hypot(x[d], y[d]);
      const double dr = r2 - r1;
      const double dz = z[d] - z[s];
      const double dphi = wrapPhi(std::atan2(y[d], x[d]) - std::atan2(y[s], x[s]));
      const double deta = pseudoRapidity(r2, z[d]) - pseudoRapidity(r1, z[s]);
      const double phiSlope = ratioOrZero(dphi, dr);
      double* row = out + i * kDoubletColumns;
      row[0] = dr;
      row[1] = dphi;
      row[2] = dz;
      row[3] = deta;
      row[4] = phiSlope;
      row[5] = 0.5 * (r1 + r2) * phiSlope;
      row[6] = z[s] - r1 * ratioOrZero(dz, dr);
    }
  });
}

void tripletFeatures(const double* x, const double* y, const double* z, const std::int64_t* a,
                     const std::int64_t* b, const std::int64_t* c, std::size_t n, double* out,
                     int nThreads) {
  parallelFor(n, nThreads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      const std::int64_t ia = a[i];
      const std::int64_t ib = b[i];
      const std::int64_t ic = c[i];
      const double drAB = std::hypot(x[ib], y[ib]) - std::hypot(x[ia], y[ia]);
      const double drBC = std::hypot(x[ic], y[ic]) - std::hypot(x[ib], y[ib]);
      double* row = out + i * kTripletColumns;
      row[0] = ratioOrZero(z[ib] - z[ia], drAB) - ratioOrZero(z[ic] - z[ib], drBC);
      row[1] = ratioOrZero(y[ib] - y[ia], x[ib] - x[ia]) - ratioOrZero(y[ic] - y[ib], x[ic] - x[ib]);
    }
  });
}

}  // namespace acts_gnn
