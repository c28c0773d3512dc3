#include "track_cleaning.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "parallel_for.hpp"

namespace acts_gnn {
namespace {

/// Solves the symmetric 3x3 system m p = r by Gaussian elimination with partial pivoting;
/// false if it is (numerically) singular.
bool solve3(const double (&m)[3][3], const double (&r)[3], double (&p)[3]) {
  double a[3][4];
  double scale = 0.0;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      a[i][j] = m[i][j];
      scale = std::max(scale, std::abs(m[i][j]));
    }
    a[i][3] = r[i];
  }
  if (scale == 0.0) {
    return false;
  }
  for (int col = 0; col < 3; ++col) {
    int pivot = col;
    for (int i = col + 1; i < 3; ++i) {
      if (std::abs(a[i][col]) > std::abs(a[pivot][col])) {
        pivot = i;
      }
    }
    if (std::abs(a[pivot][col]) <= 1e-13 * scale) {
      return false;
    }
    if (pivot != col) {
      for (int j = 0; j < 4; ++j) {
        std::swap(a[col][j], a[pivot][j]);
      }
    }
    for (int i = col + 1; i < 3; ++i) {
      const double f = a[i][col] / a[col][col];
      for (int j = col; j < 4; ++j) {
        a[i][j] -= f * a[col][j];
      }
    }
  }
  for (int i = 2; i >= 0; --i) {
    double s = a[i][3];
    for (int j = i + 1; j < 3; ++j) {
      s -= a[i][j] * p[j];
    }
    p[i] = s / a[i][i];
  }
  return true;
}

/// Centre (uc, vc) and radius of the circle u^2 + v^2 + D u + E v + F = 0 solving the normal
/// equations; false for a singular system or an imaginary circle.
bool circleFrom(const double (&m)[3][3], const double (&r)[3], double& uc, double& vc,
                double& radius) {
  double p[3];
  if (!solve3(m, r, p)) {
    return false;
  }
  uc = -0.5 * p[0];
  vc = -0.5 * p[1];
  const double r2 = uc * uc + vc * vc - p[2];
  if (!(r2 > 0.0)) {
    return false;
  }
  radius = std::sqrt(r2);
  return true;
}

/// Transverse arc length [mm] from the beam line to radius `r` on a circle of radius
/// `radius` through it; half a turn beyond the circle's reach (loopers).
double arcLength(double r, double radius) {
  const double ratio = r / (2.0 * radius);
  return ratio >= 1.0 ? M_PI * radius : 2.0 * radius * std::asin(ratio);
}

/// Straight line z = z0 + slope * s through the points (s[j], z[rows[j]]) of the kept hits
/// other than `left`; false if their arc lengths do not spread.
bool lineFrom(const double* z, const std::int64_t* rows, const std::vector<double>& s,
              const std::uint8_t* keep, std::size_t n, std::size_t left, double& z0,
              double& slope) {
  double sn = 0.0, ss = 0.0, sz = 0.0, sss = 0.0, ssz = 0.0;
  for (std::size_t j = 0; j < n; ++j) {
    if (keep[j] && j != left) {
      const double zj = z[rows[j]];
      sn += 1.0;
      ss += s[j];
      sz += zj;
      sss += s[j] * s[j];
      ssz += s[j] * zj;
    }
  }
  const double det = sn * sss - ss * ss;
  if (!(det > 1e-9 * sn * sss)) {
    return false;
  }
  slope = (sn * ssz - ss * sz) / det;
  z0 = (sz - slope * ss) / sn;
  return true;
}

void cleanOne(const double* x, const double* y, const double* z, const std::int64_t* rows,
              std::size_t n, const HelixCleaningCuts& cuts, std::uint8_t* keep,
              std::vector<double>& rho, std::vector<double>& s) {
  const std::size_t least = static_cast<std::size_t>(std::max(4, cuts.minKept));
  for (std::size_t k = 0; k < n; ++k) {
    rho[k] = std::hypot(x[rows[k]], y[rows[k]]);
  }
  std::size_t active = n;
  for (int step = 0; step < cuts.maxRemoved && active > least; ++step) {
    // centred, scaled transverse coordinates keep the normal equations well conditioned
    double cx = 0.0, cy = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
      if (keep[k]) {
        cx += x[rows[k]];
        cy += y[rows[k]];
      }
    }
    cx /= static_cast<double>(active);
    cy /= static_cast<double>(active);
    double span = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
      if (keep[k]) {
        span = std::max({span, std::abs(x[rows[k]] - cx), std::abs(y[rows[k]] - cy)});
      }
    }
    if (span == 0.0) {
      return;
    }
    auto scaled = [&](std::size_t j, double (&a)[3]) {
      a[0] = (x[rows[j]] - cx) / span;
      a[1] = (y[rows[j]] - cy) / span;
      a[2] = 1.0;
      return a[0] * a[0] + a[1] * a[1];
    };
    // moments of a = (u, v, 1) and w = u^2 + v^2 over the kept hits: Kasa's circle solves
    // M p = r with r = -sum(w a); leaving a hit out subtracts its terms
    double m[3][3] = {};
    double r[3] = {};
    for (std::size_t k = 0; k < n; ++k) {
      if (!keep[k]) {
        continue;
      }
      double a[3];
      const double w = scaled(k, a);
      for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 3; ++j) {
          m[i][j] += a[i] * a[j];
        }
        r[i] -= w * a[i];
      }
    }
    // the hit whose removal leaves the most consistent others: the least sum of the others'
    // squared distances over tolerances from their own circle and line
    double best = std::numeric_limits<double>::infinity();
    double bestRatio = 0.0;
    std::size_t bestHit = n;
    for (std::size_t k = 0; k < n; ++k) {
      if (!keep[k]) {
        continue;
      }
      double a[3];
      const double w = scaled(k, a);
      double mk[3][3], rk[3];
      for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 3; ++j) {
          mk[i][j] = m[i][j] - a[i] * a[j];
        }
        rk[i] = r[i] + w * a[i];
      }
      double uc = 0.0, vc = 0.0, radius = 0.0;
      const bool circle = circleFrom(mk, rk, uc, vc, radius);
      // arc lengths on the others' circle (on the straight line without one)
      for (std::size_t j = 0; j < n; ++j) {
        s[j] = circle ? arcLength(rho[j], radius * span) : rho[j];
      }
      double z0 = 0.0, slope = 0.0;
      const bool line = lineFrom(z, rows, s, keep, n, k, z0, slope);
      const double norm = 1.0 / std::sqrt(1.0 + slope * slope);
      auto ratio2 = [&](std::size_t j, double& t, double& l) {
        double aj[3];
        scaled(j, aj);
        t = circle ? span * std::abs(std::hypot(aj[0] - uc, aj[1] - vc) - radius) : 0.0;
        l = line ? std::abs(z[rows[j]] - z0 - slope * s[j]) * norm : 0.0;
        t /= cuts.tolTransverse;
        l /= cuts.tolLongitudinal;
      };
      double others = 0.0;
      for (std::size_t j = 0; j < n && others < best; ++j) {
        if (keep[j] && j != k) {
          double t, l;
          ratio2(j, t, l);
          others += t * t + l * l;
        }
      }
      if (others < best) {
        double t, l;
        ratio2(k, t, l);
        best = others;
        bestHit = k;
        bestRatio = std::max(t, l);
      }
    }
    if (bestHit == n || !(bestRatio > 1.0)) {
      return;
    }
    keep[bestHit] = 0;
    --active;
  }
}

}  // namespace

void removeHelixOutliers(const double* x, const double* y, const double* z,
                         const std::int64_t* offsets, std::size_t nCandidates,
                         const std::int64_t* hits, const HelixCleaningCuts& cuts, int nThreads,
                         std::uint8_t* keep) {
  std::fill(keep, keep + offsets[nCandidates], std::uint8_t{1});
  parallelSlices(nCandidates, resolveThreads(nCandidates, nThreads, 256),
                 [&](std::size_t, std::size_t begin, std::size_t end) {
                   std::vector<double> rho, s;
                   for (std::size_t c = begin; c < end; ++c) {
                     const std::int64_t lo = offsets[c], hi = offsets[c + 1];
                     rho.resize(static_cast<std::size_t>(hi - lo));
                     s.resize(static_cast<std::size_t>(hi - lo));
                     cleanOne(x, y, z, hits + lo, static_cast<std::size_t>(hi - lo), cuts,
                              keep + lo, rho, s);
                   }
                 });
}

}  // namespace acts_gnn
