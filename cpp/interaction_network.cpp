// See interaction_network.hpp.
#include "interaction_network.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <type_traits>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

namespace acts_gnn {

namespace {

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define ACTS_GNN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ACTS_GNN_CLONES
#endif
#define ACTS_GNN_INLINE inline __attribute__((always_inline))

/// Rows per block: one block's activations (64 x H floats, 16 KB at H = 64) stay in L1/L2.
constexpr std::size_t kBlock = 64;

/// Eight floats, one AVX register (two SSE ones in the baseline build), and sixteen, one
/// AVX-512 register (the element-wise work of AVX-512 CPUs); loads and stores are unaligned.
typedef float Vec8 __attribute__((vector_size(32)));
typedef std::int32_t Int8 __attribute__((vector_size(32)));
typedef float Vec16 __attribute__((vector_size(64)));
typedef std::int32_t Int16 __attribute__((vector_size(64)));

/// The integer vector of a float vector's width.
template <typename V>
struct IntOf;
template <>
struct IntOf<Vec8> {
  using type = Int8;
};
template <>
struct IntOf<Vec16> {
  using type = Int16;
};

template <typename V>
constexpr std::size_t lanes = sizeof(V) / sizeof(float);

template <typename V>
ACTS_GNN_INLINE V loadV(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <typename V>
ACTS_GNN_INLINE void storeV(float* p, V v) {
  std::memcpy(p, &v, sizeof(v));
}

template <typename V>
ACTS_GNN_INLINE V splatV(float v) {
  return V{} + v;
}

template <typename V>
ACTS_GNN_INLINE float lanesSumV(V v) {
  float s = 0.0f;
  for (std::size_t i = 0; i < lanes<V>; ++i) s += v[i];
  return s;
}

ACTS_GNN_INLINE Vec8 load8(const float* p) { return loadV<Vec8>(p); }
ACTS_GNN_INLINE void store8(float* p, Vec8 v) { storeV(p, v); }
ACTS_GNN_INLINE float lanesSum(Vec8 v) { return lanesSumV(v); }

/// exp(x) per lane: 2^n p(r), n = round(x / ln 2) (by the 1.5 * 2^23 trick), r = x - n ln 2
/// (Cody-Waite, two parts), p Cephes' degree-6 expf polynomial; ~2 ulp; x clamped to
/// [-87.3, 88.3] (no overflow, no denormal scale).
template <typename V>
ACTS_GNN_INLINE V expV(V x) {
  using I = typename IntOf<V>::type;
  x = x < splatV<V>(-87.3f) ? splatV<V>(-87.3f) : x;
  x = x > splatV<V>(88.3f) ? splatV<V>(88.3f) : x;
  const V round = splatV<V>(12582912.0f);  // 1.5 * 2^23
  const V n = (x * 1.44269504088896341f + round) - round;
  const V r = x - n * 0.693359375f + n * 2.12194440e-4f;
  V p = splatV<V>(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const I bits = (__builtin_convertvector(n, I) + 127) << 23;
  V scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

template <typename V>
ACTS_GNN_INLINE V activateV(V z, Activation a) {
  switch (a) {
    case Activation::None:
      return z;
    case Activation::ReLU:
      return z > splatV<V>(0.0f) ? z : splatV<V>(0.0f);
    case Activation::SiLU:
      return z / (1.0f + expV(-z));
    case Activation::Sigmoid:
      return 1.0f / (1.0f + expV(-z));
    case Activation::Tanh:  // 1 - 2 / (exp(2z) + 1): exact limits +-1 (exp clamped)
      return 1.0f - 2.0f / (expV(2.0f * z) + 1.0f);
  }
  return z;
}

/// Apply `a` to z[0 .. n) in place (a vector at a time; the tail through a padded copy).
template <typename V>
ACTS_GNN_INLINE void activateT(float* z, std::size_t n, Activation a) {
  constexpr std::size_t L = lanes<V>;
  if (a == Activation::None) return;
  std::size_t i = 0;
  for (; i + L <= n; i += L) storeV(z + i, activateV(loadV<V>(z + i), a));
  if (i == n) return;
  float tail[L] = {};
  std::memcpy(tail, z + i, (n - i) * sizeof(float));
  storeV(tail, activateV(loadV<V>(tail), a));
  std::memcpy(z + i, tail, (n - i) * sizeof(float));
}

/// LayerNorm of each of the `rows` rows of z [rows, n] in place (biased variance, as torch).
template <typename V>
ACTS_GNN_INLINE void layerNormT(float* z, std::size_t rows, std::size_t n, const float* weight,
                                const float* bias, float eps) {
  constexpr std::size_t L = lanes<V>;
  const float invN = 1.0f / static_cast<float>(n);
  const std::size_t nv = n - n % L;
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = z + r * n;
    V acc{};
    for (std::size_t i = 0; i < nv; i += L) acc += loadV<V>(row + i);
    float sum = lanesSumV(acc);
    for (std::size_t i = nv; i < n; ++i) sum += row[i];
    const float mean = sum * invN;
    acc = V{};
    for (std::size_t i = 0; i < nv; i += L) {
      const V d = loadV<V>(row + i) - mean;
      acc += d * d;
    }
    float var = lanesSumV(acc);
    for (std::size_t i = nv; i < n; ++i) var += (row[i] - mean) * (row[i] - mean);
    const float inv = 1.0f / std::sqrt(var * invN + eps);
    for (std::size_t i = 0; i < nv; i += L) {
      storeV(row + i, (loadV<V>(row + i) - mean) * inv * loadV<V>(weight + i) +
                          loadV<V>(bias + i));
    }
    for (std::size_t i = nv; i < n; ++i) row[i] = (row[i] - mean) * inv * weight[i] + bias[i];
  }
}

/// Z[r, :] += X[r, :] . W for r < rows; X [rows, K] (row stride ldx), W [K, N], Z [rows, N],
/// N a compile-time multiple of 8: R rows at a time, their accumulators held in registers
/// and each weight row loaded once for all R.
template <std::size_t N>
ACTS_GNN_INLINE void productFixed(const float* X, std::size_t ldx, std::size_t rows,
                                  std::size_t K, const float* W, float* Z) {
  constexpr std::size_t V = N / 8;
  constexpr std::size_t R = N <= 32 ? 4 : (N <= 64 ? 2 : 1);
  auto block = [&](std::size_t r, auto rowsTag) {
    constexpr std::size_t Q = decltype(rowsTag)::value;
    Vec8 acc[Q][V];
#pragma GCC unroll 16
    for (std::size_t q = 0; q < Q; ++q)
#pragma GCC unroll 16
      for (std::size_t v = 0; v < V; ++v) acc[q][v] = load8(Z + (r + q) * N + 8 * v);
    for (std::size_t k = 0; k < K; ++k) {
      Vec8 w[V];
#pragma GCC unroll 16
      for (std::size_t v = 0; v < V; ++v) w[v] = load8(W + k * N + 8 * v);
#pragma GCC unroll 16
      for (std::size_t q = 0; q < Q; ++q) {
        const float xv = X[(r + q) * ldx + k];
#pragma GCC unroll 16
        for (std::size_t v = 0; v < V; ++v) acc[q][v] += w[v] * xv;
      }
    }
#pragma GCC unroll 16
    for (std::size_t q = 0; q < Q; ++q)
#pragma GCC unroll 16
      for (std::size_t v = 0; v < V; ++v) store8(Z + (r + q) * N + 8 * v, acc[q][v]);
  };
  std::size_t r = 0;
  for (; r + R <= rows; r += R) block(r, std::integral_constant<std::size_t, R>{});
  for (; r < rows; ++r) block(r, std::integral_constant<std::size_t, 1>{});
}

ACTS_GNN_INLINE void productGeneric(const float* X, std::size_t ldx, std::size_t rows,
                                    std::size_t K, const float* W, std::size_t N, float* Z) {
  if (N == 1) {  // one output (a logit): a dot product per row, eight lanes at a time
    const std::size_t k8 = K - K % 8;
    for (std::size_t r = 0; r < rows; ++r) {
      const float* x = X + r * ldx;
      Vec8 acc{};
      for (std::size_t k = 0; k < k8; k += 8) acc += load8(x + k) * load8(W + k);
      float dot = lanesSum(acc);
      for (std::size_t k = k8; k < K; ++k) dot += x[k] * W[k];
      Z[r] += dot;
    }
    return;
  }
  for (std::size_t r = 0; r < rows; ++r) {
    float* z = Z + r * N;
    for (std::size_t k = 0; k < K; ++k) {
      const float xv = X[r * ldx + k];
      const float* w = W + k * N;
      for (std::size_t j = 0; j < N; ++j) z[j] += xv * w[j];
    }
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
#define ACTS_GNN_AVX512 __attribute__((target("avx512f")))

/// Z[q, :T] += X[q, :] . W[:, :T] for Q rows and a tile of T columns (W and Z of row stride
/// N) in 16-float registers (AVX-512): as productFixed, with registers twice as wide.
template <std::size_t T, std::size_t Q>
ACTS_GNN_AVX512 void avx512Block(const float* X, std::size_t ldx, std::size_t K, const float* W,
                                 std::size_t N, float* Z) {
  constexpr std::size_t V = T / 16;
  __m512 acc[Q][V];
  for (std::size_t q = 0; q < Q; ++q)
    for (std::size_t v = 0; v < V; ++v) acc[q][v] = _mm512_loadu_ps(Z + q * N + 16 * v);
  for (std::size_t k = 0; k < K; ++k) {
    __m512 w[V];
    for (std::size_t v = 0; v < V; ++v) w[v] = _mm512_loadu_ps(W + k * N + 16 * v);
    for (std::size_t q = 0; q < Q; ++q) {
      const __m512 x = _mm512_set1_ps(X[q * ldx + k]);
      for (std::size_t v = 0; v < V; ++v) acc[q][v] = _mm512_fmadd_ps(x, w[v], acc[q][v]);
    }
  }
  for (std::size_t q = 0; q < Q; ++q)
    for (std::size_t v = 0; v < V; ++v) _mm512_storeu_ps(Z + q * N + 16 * v, acc[q][v]);
}

/// Z [rows, N] += X . W for N = 32, 64 or 128: 4 rows x up to 64 columns of accumulators
/// (a 128-wide product as two 64-column tiles).
template <std::size_t N>
ACTS_GNN_AVX512 void avx512Product(const float* X, std::size_t ldx, std::size_t rows,
                                   std::size_t K, const float* W, float* Z) {
  constexpr std::size_t T = N < 64 ? N : 64;
  for (std::size_t c = 0; c < N; c += T) {
    std::size_t r = 0;
    for (; r + 4 <= rows; r += 4) avx512Block<T, 4>(X + r * ldx, ldx, K, W + c, N, Z + r * N + c);
    for (; r < rows; ++r) avx512Block<T, 1>(X + r * ldx, ldx, K, W + c, N, Z + r * N + c);
  }
}

/// Whether this CPU has AVX-512 F (checked once); the environment variable
/// ACTS_GNN_CORE_NO_AVX512 (any value) makes the products take the 8-wide path instead (for
/// tests of that path on an AVX-512 machine).
bool hasAvx512() {
  static const bool has = [] {
    if (std::getenv("ACTS_GNN_CORE_NO_AVX512") != nullptr) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return has;
}
#endif

/// Z [rows, N] += X [rows, K] (row stride ldx) . W [K, N], all float32.
ACTS_GNN_INLINE void productAdd(const float* X, std::size_t ldx, std::size_t rows, std::size_t K,
                                const float* W, std::size_t N, float* Z) {
#if defined(__GNUC__) && defined(__x86_64__)
  if ((N == 32 || N == 64 || N == 128) && hasAvx512()) {
    if (N == 32) return avx512Product<32>(X, ldx, rows, K, W, Z);
    if (N == 64) return avx512Product<64>(X, ldx, rows, K, W, Z);
    return avx512Product<128>(X, ldx, rows, K, W, Z);
  }
#endif
  switch (N) {
    case 32:
      return productFixed<32>(X, ldx, rows, K, W, Z);
    case 64:
      return productFixed<64>(X, ldx, rows, K, W, Z);
    case 128:
      return productFixed<128>(X, ldx, rows, K, W, Z);
    default:
      return productGeneric(X, ldx, rows, K, W, N, Z);
  }
}

/// z [rows, layer.out] = bias (broadcast).
ACTS_GNN_INLINE void fillBias(float* z, std::size_t rows, const DenseLayer& layer) {
  for (std::size_t r = 0; r < rows; ++r)
    std::memcpy(z + r * layer.out, layer.bias.data(), layer.out * sizeof(float));
}

template <typename V>
ACTS_GNN_INLINE void normAndActivateT(float* z, std::size_t rows, const DenseLayer& layer) {
  if (layer.norm) {
    layerNormT<V>(z, rows, layer.out, layer.normWeight.data(), layer.normBias.data(),
                  layer.eps);
  }
  activateT<V>(z, rows * layer.out, layer.activation);
}

#if defined(__GNUC__) && defined(__x86_64__)
/// LayerNorm and activation 16 lanes at a time (AVX-512).
ACTS_GNN_AVX512 void normAndActivate512(float* z, std::size_t rows, const DenseLayer& layer) {
  normAndActivateT<Vec16>(z, rows, layer);
}
#endif

/// A layer's LayerNorm (if any) and activation on z [rows, layer.out], in place.
ACTS_GNN_INLINE void normAndActivate(float* z, std::size_t rows, const DenseLayer& layer) {
#if defined(__GNUC__) && defined(__x86_64__)
  if (hasAvx512()) return normAndActivate512(z, rows, layer);
#endif
  normAndActivateT<Vec8>(z, rows, layer);
}

// -- bfloat16 products (AVX-512 BF16: vdpbf16ps, two products per float32 lane) ------------

/// bfloat16 of x, rounded to nearest even (as the hardware's conversion; x finite).
std::uint16_t toBf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

/// The widths the bfloat16 kernel takes (others run in float32).
bool bf16Width(std::size_t n) { return n == 16 || n == 32 || n == 64 || n == 128; }

#if defined(__GNUC__) && defined(__x86_64__)
#define ACTS_GNN_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/// rows [rows, K] of X (stride ldx) as bfloat16, each padded to 2 Kp values (a zero after
/// an odd K), so that row r's value pairs are the uint32 out[r Kp .. r Kp + Kp).
ACTS_GNN_BF16 void bf16Rows(const float* X, std::size_t ldx, std::size_t rows, std::size_t K,
                            std::uint16_t* out) {
  const std::size_t Kp = (K + 1) / 2;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* x = X + r * ldx;
    std::uint16_t* o = out + r * 2 * Kp;
    std::size_t k = 0;
    for (; k + 32 <= K; k += 32) {
      const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(x + k));
      _mm512_storeu_si512(o + k, reinterpret_cast<const __m512i&>(v));
    }
    for (; k < K; ++k) o[k] = toBf16(x[k]);
    if (K % 2 == 1) o[K] = 0;
  }
}

/// Z[q, :] += X[q, :] . W for Q rows: xp [Q, Kp] value pairs, Wp [Kp, N] weight pairs.
template <std::size_t N, std::size_t Q>
ACTS_GNN_BF16 void bf16Block(const std::uint32_t* xp, std::size_t Kp, const std::uint32_t* Wp,
                             float* Z) {
  constexpr std::size_t V = N / 16;
  __m512 acc[Q][V];
  for (std::size_t q = 0; q < Q; ++q)
    for (std::size_t v = 0; v < V; ++v) acc[q][v] = _mm512_loadu_ps(Z + q * N + 16 * v);
  for (std::size_t kp = 0; kp < Kp; ++kp) {
    __m512bh w[V];
    for (std::size_t v = 0; v < V; ++v) {
      const __m512i bits = _mm512_loadu_si512(Wp + kp * N + 16 * v);
      w[v] = reinterpret_cast<const __m512bh&>(bits);
    }
    for (std::size_t q = 0; q < Q; ++q) {
      const __m512i pair = _mm512_set1_epi32(static_cast<int>(xp[q * Kp + kp]));
      const __m512bh a = reinterpret_cast<const __m512bh&>(pair);
      for (std::size_t v = 0; v < V; ++v) acc[q][v] = _mm512_dpbf16_ps(acc[q][v], a, w[v]);
    }
  }
  for (std::size_t q = 0; q < Q; ++q)
    for (std::size_t v = 0; v < V; ++v) _mm512_storeu_ps(Z + q * N + 16 * v, acc[q][v]);
}

template <std::size_t N>
ACTS_GNN_BF16 void bf16Product(const std::uint32_t* xp, std::size_t Kp, std::size_t rows,
                               const std::uint32_t* Wp, float* Z) {
  constexpr std::size_t R = N <= 64 ? 4 : 2;
  std::size_t r = 0;
  for (; r + R <= rows; r += R) bf16Block<N, R>(xp + r * Kp, Kp, Wp, Z + r * N);
  for (; r < rows; ++r) bf16Block<N, 1>(xp + r * Kp, Kp, Wp, Z + r * N);
}

/// Z [rows, N] += X [rows, K] (stride ldx) . W, W as bfloat16 pairs [Kp, N] (N a bf16Width);
/// xbuf: scratch for rows x 2 Kp bfloat16 values.
ACTS_GNN_BF16 void productBf16(const float* X, std::size_t ldx, std::size_t rows,
                               std::size_t K, const std::uint32_t* Wp, std::size_t N, float* Z,
                               std::uint16_t* xbuf) {
  const std::size_t Kp = (K + 1) / 2;
  bf16Rows(X, ldx, rows, K, xbuf);
  const auto* xp = reinterpret_cast<const std::uint32_t*>(xbuf);
  switch (N) {
    case 16:
      return bf16Product<16>(xp, Kp, rows, Wp, Z);
    case 32:
      return bf16Product<32>(xp, Kp, rows, Wp, Z);
    case 64:
      return bf16Product<64>(xp, Kp, rows, Wp, Z);
    default:
      return bf16Product<128>(xp, Kp, rows, Wp, Z);
  }
}
#endif

/// A weight [K, N] of a product: float32 values and, for a bfloat16 run of a width the bf16
/// kernel takes, its value pairs Wp[kp, n] = bf16(W[2 kp, n]) | bf16(W[2 kp + 1, n]) << 16.
struct Matrix {
  std::size_t K = 0;
  std::size_t N = 0;
  std::vector<float> values;
  std::vector<std::uint32_t> pairs;  // empty: float32 products
};

/// Rows [k0, k0 + K) of the [*, N] weight w (with columns [c0, c0 + N) of its row stride
/// `stride`) as a Matrix; in bfloat16 pairs too if `bf16` and N is a bf16Width.
Matrix matrix(const float* w, std::size_t stride, std::size_t k0, std::size_t K, std::size_t c0,
              std::size_t N, bool bf16) {
  Matrix m;
  m.K = K;
  m.N = N;
  m.values.resize(K * N);
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t j = 0; j < N; ++j) m.values[k * N + j] = w[(k0 + k) * stride + c0 + j];
  if (!bf16 || !bf16Width(N)) return m;
  const std::size_t Kp = (K + 1) / 2;
  m.pairs.assign(Kp * N, 0u);
  for (std::size_t kp = 0; kp < Kp; ++kp) {
    for (std::size_t j = 0; j < N; ++j) {
      const std::uint32_t lo = toBf16(m.values[2 * kp * N + j]);
      const std::uint32_t hi = 2 * kp + 1 < K ? toBf16(m.values[(2 * kp + 1) * N + j]) : 0u;
      m.pairs[kp * N + j] = lo | (hi << 16);
    }
  }
  return m;
}

/// Rows [k0, k0 + K) of a Matrix (k0 and K even where it has pairs).
struct MatrixView {
  std::size_t K;
  std::size_t N;
  const float* values;
  const std::uint32_t* pairs;  // nullptr: float32 products
};

MatrixView rowsOf(const Matrix& m, std::size_t k0, std::size_t K) {
  const std::uint32_t* pairs = m.pairs.empty() ? nullptr : m.pairs.data() + (k0 / 2) * m.N;
  return {K, m.N, m.values.data() + k0 * m.N, pairs};
}

MatrixView whole(const Matrix& m) { return rowsOf(m, 0, m.K); }

/// Z [rows, m.N] += X [rows, m.K] (row stride ldx) . m, in bfloat16 where m has pairs.
ACTS_GNN_INLINE void multiplyAdd(const float* X, std::size_t ldx, std::size_t rows,
                                 const MatrixView& m, float* Z, std::uint16_t* xbuf) {
#if defined(__GNUC__) && defined(__x86_64__)
  if (m.pairs != nullptr) {
    productBf16(X, ldx, rows, m.K, m.pairs, m.N, Z, xbuf);
    return;
  }
#endif
  (void)xbuf;
  productAdd(X, ldx, rows, m.K, m.values, m.N, Z);
}

/// An MLP's weights as products: `first` its whole first weight (a node MLP) or the source
/// and target blocks side by side [H, 2 out] (an edge MLP), `third` the edge MLP's third
/// block [thirdWidth, out], `rest` the weights of its other layers.
struct MlpPlan {
  const Mlp* mlp = nullptr;
  Matrix first;
  Matrix third;
  std::vector<Matrix> rest;
};

MlpPlan nodePlan(const Mlp& mlp, bool bf16) {
  MlpPlan plan;
  plan.mlp = &mlp;
  const DenseLayer& f = mlp[0];
  plan.first = matrix(f.weight.data(), f.out, 0, f.in, 0, f.out, bf16);
  for (std::size_t i = 1; i < mlp.size(); ++i) {
    const DenseLayer& l = mlp[i];
    plan.rest.push_back(matrix(l.weight.data(), l.out, 0, l.in, 0, l.out, bf16));
  }
  return plan;
}

MlpPlan edgePlan(const Mlp& mlp, std::size_t hidden, bool bf16) {
  MlpPlan plan = nodePlan(mlp, bf16);
  const DenseLayer& f = mlp[0];
  std::vector<float> sideBySide(hidden * 2 * f.out);
  for (std::size_t k = 0; k < hidden; ++k) {
    for (std::size_t j = 0; j < f.out; ++j) {
      sideBySide[k * 2 * f.out + j] = f.weight[k * f.out + j];
      sideBySide[k * 2 * f.out + f.out + j] = f.weight[(hidden + k) * f.out + j];
    }
  }
  plan.first = matrix(sideBySide.data(), 2 * f.out, 0, hidden, 0, 2 * f.out, bf16);
  plan.third = matrix(f.weight.data(), f.out, 2 * hidden, f.in - 2 * hidden, 0, f.out, bf16);
  return plan;
}

/// Scratch for one thread's blocks of rows: two activation buffers, one for scaled inputs
/// (the mean aggregates) and the bfloat16 copy of a product's input rows, each for kBlock
/// rows of the widest layer (`widest` values).
struct Scratch {
  std::vector<float> a, b, in;
  std::vector<std::uint16_t> low;
  explicit Scratch(std::size_t widest)
      : a(kBlock * widest), b(kBlock * widest), in(kBlock * widest), low(kBlock * (widest + 2)) {}
};

/// The rest of an MLP after its first Linear (bias included), for `rows` rows in scratch.a.
/// Returns the buffer holding the output [rows, mlp.back().out] (scratch.a or scratch.b).
ACTS_GNN_INLINE float* finishMlp(const MlpPlan& plan, std::size_t rows, Scratch& scratch) {
  const Mlp& mlp = *plan.mlp;
  float* a = scratch.a.data();
  float* b = scratch.b.data();
  normAndActivate(a, rows, mlp[0]);
  for (std::size_t i = 1; i < mlp.size(); ++i) {
    const DenseLayer& layer = mlp[i];
    fillBias(b, rows, layer);
    multiplyAdd(a, layer.in, rows, whole(plan.rest[i - 1]), b, scratch.low.data());
    normAndActivate(b, rows, layer);
    std::swap(a, b);
  }
  return a;
}

/// rows [lo, hi) of out [n, 2 out0] = h [n, H] . first: the node terms of an edge MLP.
ACTS_GNN_CLONES void nodeTerms(const float* h, const MlpPlan& plan, std::size_t lo,
                               std::size_t hi, float* out, Scratch& scratch) {
  const Matrix& m = plan.first;
  for (std::size_t r = lo; r < hi; r += kBlock) {
    const std::size_t rows = std::min(kBlock, hi - r);
    std::memset(out + r * m.N, 0, rows * m.N * sizeof(float));
    multiplyAdd(h + r * m.K, m.K, rows, whole(m), out + r * m.N, scratch.low.data());
  }
}

/// Edges [lo, hi) of an edge MLP (encoder, edge net or decoder): z = b + terms[src][:out0] +
/// terms[dst][out0:] (+ third . W_t); the MLP's output is written to (or, `residual`, added
/// to) out [E, outWidth]; with sums (in, out) [n, H], each new out row is added into
/// sumIn[dst] and sumOut[src].
struct EdgeJob {
  const MlpPlan* plan;
  const float* terms;  // [n, 2 out0]
  const float* third;  // [E, plan->third.K] or nullptr
  const std::int64_t* src;
  const std::int64_t* dst;
  float* out;
  bool residual;
  float* sumIn;
  float* sumOut;
};

ACTS_GNN_CLONES void edgeRows(const EdgeJob& job, std::size_t lo, std::size_t hi,
                              Scratch& scratch) {
  const MlpPlan& plan = *job.plan;
  const DenseLayer& first = (*plan.mlp)[0];
  const std::size_t w0 = first.out;
  const std::size_t outWidth = plan.mlp->back().out;
  const std::size_t thirdWidth = plan.third.K;
  for (std::size_t e0 = lo; e0 < hi; e0 += kBlock) {
    const std::size_t rows = std::min(kBlock, hi - e0);
    float* z = scratch.a.data();
    for (std::size_t r = 0; r < rows; ++r) {
      const float* fs = job.terms + static_cast<std::size_t>(job.src[e0 + r]) * 2 * w0;
      const float* fd = job.terms + static_cast<std::size_t>(job.dst[e0 + r]) * 2 * w0 + w0;
      const float* b = first.bias.data();
      float* zr = z + r * w0;
      for (std::size_t j = 0; j < w0; ++j) zr[j] = b[j] + fs[j] + fd[j];
    }
    if (job.third != nullptr && thirdWidth > 0) {
      multiplyAdd(job.third + e0 * thirdWidth, thirdWidth, rows, whole(plan.third), z,
                  scratch.low.data());
    }
    const float* result = finishMlp(plan, rows, scratch);
    float* out = job.out + e0 * outWidth;
    if (job.residual) {
      for (std::size_t i = 0; i < rows * outWidth; ++i) out[i] += result[i];
    } else {
      std::memcpy(out, result, rows * outWidth * sizeof(float));
    }
    if (job.sumIn == nullptr) continue;
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = out + r * outWidth;
      float* si = job.sumIn + static_cast<std::size_t>(job.dst[e0 + r]) * outWidth;
      float* so = job.sumOut + static_cast<std::size_t>(job.src[e0 + r]) * outWidth;
      for (std::size_t j = 0; j < outWidth; ++j) si[j] += row[j];
      for (std::size_t j = 0; j < outWidth; ++j) so[j] += row[j];
    }
  }
}

/// Nodes [lo, hi) of a node MLP: input rows [inputs...] (each [n, inputWidth]), output
/// written to (or, `residual`, added to) out [n, H].
struct NodeJob {
  const MlpPlan* plan;
  std::vector<const float*> inputs;
  std::vector<const float*> inputScales;  // per input: [n] row factors or nullptr
  std::size_t inputWidth;                 // the width of every input
  float* out;
  bool residual;
};

ACTS_GNN_CLONES void nodeRows(const NodeJob& job, std::size_t lo, std::size_t hi,
                              Scratch& scratch) {
  const MlpPlan& plan = *job.plan;
  const DenseLayer& first = (*plan.mlp)[0];
  const std::size_t width = job.inputWidth;
  const std::size_t nInputs = job.inputs.size();
  const std::size_t outWidth = plan.mlp->back().out;
  for (std::size_t n0 = lo; n0 < hi; n0 += kBlock) {
    const std::size_t rows = std::min(kBlock, hi - n0);
    float* z = scratch.a.data();
    fillBias(z, rows, first);
    // the first Linear input block by input block: no concatenated copy (a scaled copy for
    // the mean aggregates)
    for (std::size_t q = 0; q < nInputs; ++q) {
      const float* x = job.inputs[q] + n0 * width;
      if (job.inputScales[q] != nullptr) {
        float* scaled = scratch.in.data();
        for (std::size_t r = 0; r < rows; ++r) {
          const float s = job.inputScales[q][n0 + r];
          for (std::size_t j = 0; j < width; ++j) scaled[r * width + j] = x[r * width + j] * s;
        }
        x = scaled;
      }
      multiplyAdd(x, width, rows, rowsOf(plan.first, q * width, width), z, scratch.low.data());
    }
    const float* result = finishMlp(plan, rows, scratch);
    float* out = job.out + n0 * outWidth;
    if (job.residual) {
      for (std::size_t i = 0; i < rows * outWidth; ++i) out[i] += result[i];
    } else {
      std::memcpy(out, result, rows * outWidth * sizeof(float));
    }
  }
}

/// Edges [lo, hi) of a per-edge MLP on [x[src], x[dst], attr] (an edge filter): the inputs
/// gathered into one [rows, 2F + D] block (F + F + D values per edge: cheaper than node terms
/// of the first layer's width), the whole MLP, one logit per edge.
struct EdgeMlpJob {
  const MlpPlan* plan;
  const float* x;     // [n, F]
  const float* attr;  // [E, D] or nullptr
  std::size_t nodeWidth;
  std::size_t attrWidth;
  const std::int64_t* src;
  const std::int64_t* dst;
  float* logits;  // [E]
};

ACTS_GNN_CLONES void edgeMlpRows(const EdgeMlpJob& job, std::size_t lo, std::size_t hi,
                                 Scratch& scratch) {
  const MlpPlan& plan = *job.plan;
  const std::size_t f = job.nodeWidth;
  const std::size_t d = job.attrWidth;
  const std::size_t k = 2 * f + d;
  for (std::size_t e0 = lo; e0 < hi; e0 += kBlock) {
    const std::size_t rows = std::min(kBlock, hi - e0);
    float* in = scratch.in.data();
    for (std::size_t r = 0; r < rows; ++r) {
      float* row = in + r * k;
      std::memcpy(row, job.x + static_cast<std::size_t>(job.src[e0 + r]) * f, f * sizeof(float));
      std::memcpy(row + f, job.x + static_cast<std::size_t>(job.dst[e0 + r]) * f,
                  f * sizeof(float));
      if (d > 0) std::memcpy(row + 2 * f, job.attr + (e0 + r) * d, d * sizeof(float));
    }
    float* z = scratch.a.data();
    fillBias(z, rows, (*plan.mlp)[0]);
    multiplyAdd(in, k, rows, whole(plan.first), z, scratch.low.data());
    const float* result = finishMlp(plan, rows, scratch);
    std::memcpy(job.logits + e0, result, rows * sizeof(float));
  }
}

/// Run body(thread, lo, hi) over [0, n) split into nThreads contiguous, block-aligned ranges.
template <typename Body>
void parallelRanges(std::size_t n, int nThreads, Body body) {
  const std::size_t blocks = (n + kBlock - 1) / kBlock;
  const std::size_t t = std::max<std::size_t>(1, std::min<std::size_t>(nThreads, blocks));
  if (t == 1) {
    body(0, 0, n);
    return;
  }
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < t; ++i) {
    const std::size_t lo = std::min(n, (blocks * i / t) * kBlock);
    const std::size_t hi = std::min(n, (blocks * (i + 1) / t) * kBlock);
    threads.emplace_back([&body, i, lo, hi] { body(i, lo, hi); });
  }
  for (auto& th : threads) th.join();
}

std::size_t widest(const InteractionNetworkWeights& w) {
  std::size_t m = w.hidden;
  auto visit = [&m](const Mlp& mlp) {
    for (const auto& layer : mlp) m = std::max({m, layer.in, layer.out});
  };
  visit(w.nodeEncoder);
  visit(w.edgeEncoder);
  visit(w.decoder);
  for (const auto& mlp : w.nodeNets) visit(mlp);
  for (const auto& mlp : w.edgeNets) visit(mlp);
  return m;
}


}  // namespace

void checkMlp(const Mlp& mlp, const std::string& name, std::size_t in, std::size_t out) {
  if (mlp.empty()) throw std::invalid_argument(name + " has no layers");
  if (mlp.front().in != in || mlp.back().out != out) {
    throw std::invalid_argument(name + " maps " + std::to_string(mlp.front().in) +
                                " -> " + std::to_string(mlp.back().out) + " values, expected " +
                                std::to_string(in) + " -> " + std::to_string(out));
  }
  for (std::size_t i = 0; i < mlp.size(); ++i) {
    const DenseLayer& layer = mlp[i];
    if ((i > 0 && layer.in != mlp[i - 1].out) || layer.weight.size() != layer.in * layer.out ||
        layer.bias.size() != layer.out ||
        (layer.norm && (layer.normWeight.size() != layer.out || layer.normBias.size() != layer.out))) {
      throw std::invalid_argument(name + ": layer " + std::to_string(i) +
                                  " has inconsistent sizes");
    }
  }
}

bool bf16Supported() {
#if defined(__GNUC__) && defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") != 0;
#else
  return false;
#endif
}

Activation activationFromName(const std::string& name) {
  if (name.empty() || name == "None") return Activation::None;
  if (name == "ReLU") return Activation::ReLU;
  if (name == "SiLU") return Activation::SiLU;
  if (name == "Tanh") return Activation::Tanh;
  if (name == "Sigmoid") return Activation::Sigmoid;
  throw std::invalid_argument("the core's Interaction Network has no activation " + name +
                              " (ReLU, SiLU, Tanh, Sigmoid or none)");
}

void checkInteractionNetwork(const InteractionNetworkWeights& w) {
  const std::size_t h = w.hidden;
  if (h == 0 || w.nodeFeatures == 0) throw std::invalid_argument("hidden and F must be > 0");
  if (!w.useSum && !w.useMean) throw std::invalid_argument("no aggregation (sum or mean)");
  if (w.nodeNets.size() != w.edgeNets.size()) {
    throw std::invalid_argument("as many node nets as edge nets are needed");
  }
  const std::size_t nAgg = (w.useSum ? 1 : 0) + (w.useMean ? 1 : 0);
  checkMlp(w.nodeEncoder, "node encoder", w.nodeFeatures, h);
  checkMlp(w.edgeEncoder, "edge encoder", 2 * h + w.edgeFeatures, h);
  for (std::size_t t = 0; t < w.nodeNets.size(); ++t) {
    const std::string step = "step " + std::to_string(t) + " ";
    checkMlp(w.nodeNets[t], step + "node net", (1 + 2 * nAgg) * h, h);
    checkMlp(w.edgeNets[t], step + "edge net", 3 * h, h);
  }
  checkMlp(w.decoder, "decoder", 3 * h, 1);
}

void interactionNetworkLogits(const InteractionNetworkWeights& w, const float* x,
                              std::size_t nNodes, const std::int64_t* src,
                              const std::int64_t* dst, std::size_t nEdges, const float* edgeAttr,
                              float* logits, bool bf16, int nThreads) {
  checkInteractionNetwork(w);
  if (bf16 && !bf16Supported()) {
    throw std::invalid_argument("bf16 needs a CPU with AVX-512 BF16 (vdpbf16ps); this one has none");
  }
  if (nEdges == 0) return;
  if (nThreads <= 0) nThreads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const std::size_t H = w.hidden;
  const std::size_t F = w.nodeFeatures;

  // renumber the nodes that have an edge (the others never reach a logit)
  std::vector<std::int64_t> renumber(nNodes, -1);
  for (std::size_t k = 0; k < nEdges; ++k) renumber[src[k]] = renumber[dst[k]] = 0;
  std::size_t n = 0;
  std::vector<float> xs;
  xs.reserve(nNodes * F);
  for (std::size_t i = 0; i < nNodes; ++i) {
    if (renumber[i] < 0) continue;
    renumber[i] = static_cast<std::int64_t>(n++);
    xs.insert(xs.end(), x + i * F, x + (i + 1) * F);
  }
  std::vector<std::int64_t> s(nEdges), d(nEdges);
  for (std::size_t k = 0; k < nEdges; ++k) {
    s[k] = renumber[src[k]];
    d[k] = renumber[dst[k]];
  }
  renumber = {};

  const std::size_t wide = widest(w);
  std::vector<Scratch> scratch;
  for (int t = 0; t < nThreads; ++t) scratch.emplace_back(wide);

  std::size_t termWidth = std::max(w.edgeEncoder[0].out, w.decoder[0].out);
  for (const auto& mlp : w.edgeNets) termWidth = std::max(termWidth, mlp[0].out);
  std::vector<float> h(n * H), e(nEdges * H), terms(n * 2 * termWidth);
  std::vector<float> sumIn(n * H), sumOut(n * H);
  // message sums (in, out) of threads 1.. (thread 0 adds into sumIn / sumOut), allocated
  // here, outside the worker threads; added up after each edge pass
  const std::size_t extraThreads = w.nodeNets.empty() ? 0 : static_cast<std::size_t>(nThreads - 1);
  std::vector<float> privateSums(extraThreads * 2 * n * H);

  std::vector<float> invIn, invOut;
  if (w.useMean) {
    invIn.assign(n, 0.0f);
    invOut.assign(n, 0.0f);
    for (std::size_t k = 0; k < nEdges; ++k) {
      invIn[d[k]] += 1.0f;
      invOut[s[k]] += 1.0f;
    }
    for (std::size_t i = 0; i < n; ++i) {
      invIn[i] = 1.0f / std::max(1.0f, invIn[i]);
      invOut[i] = 1.0f / std::max(1.0f, invOut[i]);
    }
  }

  // the weights as products (float32 copies, and bfloat16 pairs for a bf16 run)
  const MlpPlan encoderPlan = nodePlan(w.nodeEncoder, bf16);
  const MlpPlan edgeEncoderPlan = edgePlan(w.edgeEncoder, H, bf16);
  const MlpPlan decoderPlan = edgePlan(w.decoder, H, bf16);
  std::vector<MlpPlan> nodePlans, edgePlans;
  for (std::size_t t = 0; t < w.nodeNets.size(); ++t) {
    nodePlans.push_back(nodePlan(w.nodeNets[t], bf16));
    edgePlans.push_back(edgePlan(w.edgeNets[t], H, bf16));
  }

  // node encoder
  NodeJob encode{&encoderPlan, {xs.data()}, {nullptr}, F, h.data(), false};
  parallelRanges(n, nThreads, [&](std::size_t t, std::size_t lo, std::size_t hi) {
    nodeRows(encode, lo, hi, scratch[t]);
  });

  // one edge MLP over all edges, its node terms first; with `sums`, the new rows' messages
  auto edgePass = [&](const MlpPlan& plan, const float* third, float* out, bool residual,
                      bool sums) {
    parallelRanges(n, nThreads, [&](std::size_t t, std::size_t lo, std::size_t hi) {
      nodeTerms(h.data(), plan, lo, hi, terms.data(), scratch[t]);
    });
    if (sums) {
      std::fill(sumIn.begin(), sumIn.end(), 0.0f);
      std::fill(sumOut.begin(), sumOut.end(), 0.0f);
      std::fill(privateSums.begin(), privateSums.end(), 0.0f);
    }
    parallelRanges(nEdges, nThreads, [&](std::size_t t, std::size_t lo, std::size_t hi) {
      float* si = sumIn.data();
      float* so = sumOut.data();
      if (sums && t > 0) {
        si = privateSums.data() + (t - 1) * 2 * n * H;
        so = si + n * H;
      }
      EdgeJob job{&plan, terms.data(), third, s.data(), d.data(), out,
                  residual, sums ? si : nullptr, sums ? so : nullptr};
      edgeRows(job, lo, hi, scratch[t]);
    });
    if (!sums) return;
    for (std::size_t t = 0; t < extraThreads; ++t) {
      const float* pi = privateSums.data() + t * 2 * n * H;
      const float* po = pi + n * H;
      for (std::size_t i = 0; i < n * H; ++i) sumIn[i] += pi[i];
      for (std::size_t i = 0; i < n * H; ++i) sumOut[i] += po[i];
    }
  };

  const bool anySteps = !w.nodeNets.empty();
  edgePass(edgeEncoderPlan, edgeAttr, e.data(), false, anySteps);
  for (std::size_t t = 0; t < w.nodeNets.size(); ++t) {
    NodeJob step{&nodePlans[t], {h.data()}, {nullptr}, H, h.data(), true};
    if (w.useSum) {
      step.inputs.insert(step.inputs.end(), {sumIn.data(), sumOut.data()});
      step.inputScales.insert(step.inputScales.end(), {nullptr, nullptr});
    }
    if (w.useMean) {
      step.inputs.insert(step.inputs.end(), {sumIn.data(), sumOut.data()});
      step.inputScales.insert(step.inputScales.end(), {invIn.data(), invOut.data()});
    }
    parallelRanges(n, nThreads, [&](std::size_t th, std::size_t lo, std::size_t hi) {
      nodeRows(step, lo, hi, scratch[th]);
    });
    const bool last = t + 1 == w.nodeNets.size();
    edgePass(edgePlans[t], e.data(), e.data(), true, !last);
  }
  edgePass(decoderPlan, e.data(), logits, false, false);
}


void edgeMlpLogits(const Mlp& mlp, std::size_t nodeFeatures, std::size_t edgeFeatures,
                   const float* x, const std::int64_t* src, const std::int64_t* dst,
                   std::size_t nEdges, const float* edgeAttr, float* logits, bool bf16,
                   int nThreads) {
  checkMlp(mlp, "edge MLP", 2 * nodeFeatures + edgeFeatures, 1);
  if (bf16 && !bf16Supported()) {
    throw std::invalid_argument("bf16 needs a CPU with AVX-512 BF16 (vdpbf16ps); this one has none");
  }
  if (nEdges == 0) return;
  if (nThreads <= 0) nThreads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const MlpPlan plan = nodePlan(mlp, bf16);
  std::size_t wide = 2 * nodeFeatures + edgeFeatures;
  for (const auto& layer : mlp) wide = std::max({wide, layer.in, layer.out});
  std::vector<Scratch> scratch;
  for (int t = 0; t < nThreads; ++t) scratch.emplace_back(wide);
  const EdgeMlpJob job{&plan, x, edgeAttr, nodeFeatures, edgeFeatures, src, dst, logits};
  parallelRanges(nEdges, nThreads, [&](std::size_t t, std::size_t lo, std::size_t hi) {
    edgeMlpRows(job, lo, hi, scratch[t]);
  });
}

}  // namespace acts_gnn
