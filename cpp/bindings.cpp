// Python bindings of the acts_gnn C++ core (module `acts_gnn._core`).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "geometry_kernels.hpp"

namespace py = pybind11;

namespace {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IndexArray = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

std::size_t checkCoordinates(const DoubleArray& x, const DoubleArray& y, const DoubleArray& z) {
  if (x.ndim() != 1 || y.ndim() != 1 || z.ndim() != 1) {
    throw std::invalid_argument("x, y, z must be 1-D arrays");
  }
  if (x.shape(0) != y.shape(0) || x.shape(0) != z.shape(0)) {
    throw std::invalid_argument("x, y, z must have the same length");
  }
  return static_cast<std::size_t>(x.shape(0));
}

std::size_t checkIndices(const IndexArray& idx, const char* name, std::size_t nHits,
                         std::size_t expected, bool haveExpected) {
  if (idx.ndim() != 1) {
    throw std::invalid_argument(std::string(name) + " must be a 1-D integer array");
  }
  const auto n = static_cast<std::size_t>(idx.shape(0));
  if (haveExpected && n != expected) {
    throw std::invalid_argument(std::string(name) + " has a different length from the first index array");
  }
  const std::int64_t* data = idx.data();
  for (std::size_t i = 0; i < n; ++i) {
    if (data[i] < 0 || static_cast<std::size_t>(data[i]) >= nHits) {
      throw std::out_of_range(std::string(name) + "[" + std::to_string(i) + "] = " +
                              std::to_string(data[i]) + " is not a hit index (number of hits " +
                              std::to_string(nHits) + ")");
    }
  }
  return n;
}

py::array_t<double> doubletFeaturesPy(const DoubleArray& x, const DoubleArray& y,
                                      const DoubleArray& z, const IndexArray& src,
                                      const IndexArray& dst, int nThreads) {
  const std::size_t nHits = checkCoordinates(x, y, z);
  const std::size_t n = checkIndices(src, "src", nHits, 0, false);
  checkIndices(dst, "dst", nHits, n, true);
  py::array_t<double> out({static_cast<py::ssize_t>(n),
                           static_cast<py::ssize_t>(acts_gnn::kDoubletColumns)});
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    acts_gnn::doubletFeatures(x.data(), y.data(), z.data(), src.data(), dst.data(), n, o,
                              nThreads);
  }
  return out;
}

py::array_t<double> tripletFeaturesPy(const DoubleArray& x, const DoubleArray& y,
                                      const DoubleArray& z, const IndexArray& a,
                                      const IndexArray& b, const IndexArray& c, int nThreads) {
  const std::size_t nHits = checkCoordinates(x, y, z);
  const std::size_t n = checkIndices(a, "a", nHits, 0, false);
  checkIndices(b, "b", nHits, n, true);
  checkIndices(c, "c", nHits, n, true);
  py::array_t<double> out({static_cast<py::ssize_t>(n),
                           static_cast<py::ssize_t>(acts_gnn::kTripletColumns)});
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    acts_gnn::tripletFeatures(x.data(), y.data(), z.data(), a.data(), b.data(), c.data(), n, o,
                              nThreads);
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "acts_gnn C++ core: vectorised kernels over numpy arrays (units: mm, rad).";

  m.def("doublet_features", &doubletFeaturesPy, py::arg("x"), py::arg("y"), py::arg("z"),
        py::arg("src"), py::arg("dst"), py::arg("n_threads") = 1,
        R"doc(Geometric quantities of hit doublets src -> dst.

Returns a float64 array [E, 7] with columns dr, dphi, dz, deta, phi_slope, rphi_slope, z0
(mm, rad, 1/mm). Where dr == 0 the slopes are 0 and z0 is z of the source hit.)doc");
  m.def("triplet_features", &tripletFeaturesPy, py::arg("x"), py::arg("y"), py::arg("z"),
        py::arg("a"), py::arg("b"), py::arg("c"), py::arg("n_threads") = 1,
        R"doc(Geometric quantities of hit triplets a -> b -> c.

Returns a float64 array [T, 2] with columns diff_dzdr = dz/dr(ab) - dz/dr(bc) and
diff_dydx = dy/dx(ab) - dy/dx(bc); a ratio with a zero denominator counts as 0.)doc");
  m.def("wrap_phi", &acts_gnn::wrapPhi, py::arg("dphi"), "Wrap an angle difference into [-pi, pi).");
  m.attr("DOUBLET_COLUMNS") =
      py::make_tuple("dr", "dphi", "dz", "deta", "phi_slope", "rphi_slope", "z0");
  m.attr("TRIPLET_COLUMNS") = py::make_tuple("diff_dzdr", "diff_dydx");
}
