// Inference of an Interaction Network edge classifier (acts_gnn.nn.interaction_network) in
// float32, fused: every MLP runs on blocks of rows that stay in the core's cache, from the
// first product to the last activation, and each edge block's new latents are added into the
// next step's message sums while still in cache. The function is the model's, up to the
// order of summation and the activations' rounding (exp is a polynomial good to ~2 ulp).
//
// Notation as in the Python module: N nodes, E edges src -> dst, H the latent size, F node
// and D edge features. The first Linear of an MLP on [h_src, h_dst, third] is split by input
// block, W [h_s, h_d, t] = W_s h_s + W_d h_d + W_t t, and the node blocks are applied once per
// node ([N, 2 out] per MLP) and gathered per edge. Optionally the products run in bfloat16
// (AVX-512 BF16), everything else in float32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace acts_gnn {

/// The activations the kernel evaluates (torch.nn names: ReLU, SiLU, Tanh, Sigmoid).
enum class Activation : int { None = 0, ReLU = 1, SiLU = 2, Tanh = 3, Sigmoid = 4 };

/// Activation of a torch.nn class name ("" or "None": none); invalid_argument otherwise.
Activation activationFromName(const std::string& name);

/// One Linear [-> LayerNorm] [-> activation] of an MLP.
struct DenseLayer {
  std::size_t in = 0;
  std::size_t out = 0;
  std::vector<float> weight;  ///< [in, out], row-major (torch's weight transposed)
  std::vector<float> bias;    ///< [out]
  bool norm = false;
  std::vector<float> normWeight;  ///< [out] (norm only)
  std::vector<float> normBias;    ///< [out] (norm only)
  float eps = 1e-5f;
  Activation activation = Activation::None;
};

using Mlp = std::vector<DenseLayer>;

/// The weights of an Interaction Network (see acts_gnn/nn/interaction_network.py).
struct InteractionNetworkWeights {
  std::size_t nodeFeatures = 0;  ///< F
  std::size_t edgeFeatures = 0;  ///< D (0: no edge_attr)
  std::size_t hidden = 0;        ///< H
  bool useSum = true;
  bool useMean = false;
  Mlp nodeEncoder;                             ///< F -> H
  Mlp edgeEncoder;                             ///< [h_s, h_d, a] (2H + D) -> H
  std::vector<Mlp> nodeNets;                   ///< per step: [h, aggregates] -> H
  std::vector<Mlp> edgeNets;                   ///< per step: [h_s, h_d, e] (3H) -> H
  Mlp decoder;                                 ///< [h_s, h_d, e] (3H) -> 1
};

/// invalid_argument unless the layer sizes of `w` chain as the model's do.
void checkInteractionNetwork(const InteractionNetworkWeights& w);

/// Whether this CPU has AVX-512 BF16 (the bfloat16 products of interactionNetworkLogits).
bool bf16Supported();

/// Edge logits [nEdges] of the network `w` (checked) for node features x [nNodes, F]
/// (row-major), edges src[k] -> dst[k] (indices below nNodes, checked by the caller) and edge
/// features edgeAttr [nEdges, D] (nullptr when D = 0). Nodes without an edge are skipped
/// (they never reach an edge's logit). `bf16`: the matrix products of widths 16, 32, 64 and
/// 128 take bfloat16 inputs and weights (rounded to nearest even) and accumulate in float32
/// (vdpbf16ps); latents, message sums, LayerNorm and activations stay float32
/// (invalid_argument on a CPU without AVX-512 BF16). Parallel with nThreads threads (<= 0:
/// all cores); the result does not depend on the thread count except through the order of
/// the message sums.
void interactionNetworkLogits(const InteractionNetworkWeights& w, const float* x,
                              std::size_t nNodes, const std::int64_t* src,
                              const std::int64_t* dst, std::size_t nEdges, const float* edgeAttr,
                              float* logits, bool bf16, int nThreads);

/// invalid_argument unless `mlp` maps `in` values to `out` through layers whose sizes chain
/// (its name in the message).
void checkMlp(const Mlp& mlp, const std::string& name, std::size_t in, std::size_t out);

/// Logits [nEdges] of a per-edge MLP on [x[src], x[dst], edgeAttr] (an edge filter of
/// acts_gnn/nn/filter.py): x [nNodes, nodeFeatures] row-major, edge indices below nNodes
/// (checked by the caller), edgeAttr [nEdges, edgeFeatures] (nullptr when 0); `mlp` maps
/// 2 nodeFeatures + edgeFeatures values to 1 (checked). `bf16` and nThreads as for
/// interactionNetworkLogits; the result does not depend on the thread count.
void edgeMlpLogits(const Mlp& mlp, std::size_t nodeFeatures, std::size_t edgeFeatures,
                   const float* x, const std::int64_t* src, const std::int64_t* dst,
                   std::size_t nEdges, const float* edgeAttr, float* logits, bool bf16,
                   int nThreads);

}  // namespace acts_gnn
