// Geometric quantities of hit doublets and triplets, the inputs of module-map cuts and of the
// standard GNN edge features. All coordinates are global ACTS coordinates in mm.
#pragma once

#include <cstddef>
#include <cstdint>

#include "parallel_for.hpp"


namespace acts_gnn {

/// Number of columns written per doublet by `doubletFeatures`.
inline constexpr std::size_t kDoubletColumns = 7;
/// Number of columns written per triplet by `tripletFeatures`.
inline constexpr std::size_t kTripletColumns = 2;

/// Wrap an angle difference into [-pi, pi).
double wrapPhi(double dphi);

/// Pseudorapidity of a position at radius r and z (mm); +-1e3 on the beam line.
double pseudoRapidity(double r, double z);

/// a / b, or 0 where b == 0.
inline double ratioOrZero(double num, double den) { return den != 0.0 ? num / den : 0.0; }

/// Cylindrical coordinates of one hit, precomputed once per hit.
struct HitCoordinates {
  double x, y, z, r, phi, eta;
};

HitCoordinates hitCoordinates(double x, double y, double z);

/// Everything the module map needs of one doublet (inner -> outer), computed in one place so
/// that building and applying a map agree to the last bit.
struct DoubletQuantities {
  double dr, dphi, dz, deta, phiSlope, rphiSlope, z0;
  double dzdr;  // dz / dr (0 if dr == 0)
  double dydx;  // dy / dx (0 if dx == 0)
};

DoubletQuantities doubletQuantities(const HitCoordinates& a, const HitCoordinates& b);

/// For each doublet (src[i] -> dst[i]) write, row-major into `out` [n, kDoubletColumns]:
///   dr, dphi, dz, deta, phi_slope, rphi_slope, z0
/// with dr = r_dst - r_src (mm), dphi wrapped into [-pi, pi), dz = z_dst - z_src (mm),
/// deta = eta_dst - eta_src (eta of the hit position), phi_slope = dphi / dr (1/mm),
/// rphi_slope = (r_src + r_dst) / 2 * phi_slope, z0 = z_src - r_src * dz / dr (mm).
/// Where dr == 0 the slopes are 0 and z0 = z_src (finite by construction).
/// Indices must be valid for the coordinate arrays of `nHits` hits (checked by the caller).
void doubletFeatures(const double* x, const double* y, const double* z, std::size_t nHits,
                     const std::int64_t* src, const std::int64_t* dst, std::size_t n, double* out,
                     int nThreads);

/// Number of columns written per doublet by `edgeFeatures`.
inline constexpr std::size_t kEdgeFeatureColumns = 6;

/// The first six columns of `doubletFeatures` (the standard GNN edge features), rounded to
/// float32, into `out` [n, kEdgeFeatureColumns]: a quarter of the memory of the float64 rows.
void edgeFeatures(const double* x, const double* y, const double* z, std::size_t nHits,
                  const std::int64_t* src, const std::int64_t* dst, std::size_t n, float* out,
                  int nThreads);

/// For each triplet (a[i], b[i], c[i]) write into `out` [n, kTripletColumns]:
///   diff_dzdr = dz_ab / dr_ab - dz_bc / dr_bc
///   diff_dydx = -dy_ab / dx_ab - dy_bc / dx_bc
/// (diff_dydx as ModuleMapGraph and acorn define it, sign included, so that module maps are
/// interchangeable with theirs). A ratio with a zero denominator counts as 0.
void tripletFeatures(const double* x, const double* y, const double* z, const std::int64_t* a,
                     const std::int64_t* b, const std::int64_t* c, std::size_t n, double* out,
                     int nThreads);

}  // namespace acts_gnn

