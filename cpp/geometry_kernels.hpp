// Geometric quantities of hit doublets and triplets, the inputs of module-map cuts and of the
// standard GNN edge features. All coordinates are global ACTS coordinates in mm.
#pragma once

#include <cstddef>
#include <cstdint>

namespace acts_gnn {

/// Number of columns written per doublet by `doubletFeatures`.
inline constexpr std::size_t kDoubletColumns = 7;
/// Number of columns written per triplet by `tripletFeatures`.
inline constexpr std::size_t kTripletColumns = 2;

/// Wrap an angle difference into [-pi, pi).
double wrapPhi(double dphi);

/// For each doublet (src[i] -> dst[i]) write, row-major into `out` [n, kDoubletColumns]:
///   dr, dphi, dz, deta, phi_slope, rphi_slope, z0
/// with dr = r_dst - r_src (mm), dphi wrapped into [-pi, pi), dz = z_dst - z_src (mm),
/// deta = eta_dst - eta_src (eta of the hit position), phi_slope = dphi / dr (1/mm),
/// rphi_slope = (r_src + r_dst) / 2 * phi_slope, z0 = z_src - r_src * dz / dr (mm).
/// Where dr == 0 the slopes are 0 and z0 = z_src (finite by construction).
/// Indices must be valid for the coordinate arrays (checked by the caller).
void doubletFeatures(const double* x, const double* y, const double* z, const std::int64_t* src,
                     const std::int64_t* dst, std::size_t n, double* out, int nThreads);

/// For each triplet (a[i], b[i], c[i]) write into `out` [n, kTripletColumns]:
///   diff_dzdr = dz_ab / dr_ab - dz_bc / dr_bc
///   diff_dydx = dy_ab / dx_ab - dy_bc / dx_bc
/// A ratio with a zero denominator counts as 0.
void tripletFeatures(const double* x, const double* y, const double* z, const std::int64_t* a,
                     const std::int64_t* b, const std::int64_t* c, std::size_t n, double* out,
                     int nThreads);

/// Run `body(begin, end)` over [0, n) split across up to `nThreads` threads
/// (nThreads <= 0: all hardware threads). Small ranges run on the calling thread.
template <typename Body>
void parallelFor(std::size_t n, int nThreads, Body&& body);

}  // namespace acts_gnn

#include "parallel_for.hpp"
