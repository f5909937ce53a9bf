// test_blocks.h — what lesson 03's two suites build alike: the activations in double (so no expectation
// relies on the code under test), the MLP written out from its public weights, the wide-initialised
// block config and a decoder block whose two norms differ. No test cases live here.
#pragma once

#include <cmath>
#include <cstdint>

#include "decoder_layer.h"
#include "llm/config.h"
#include "llm/linear.h"
#include "llm/ops.h"
#include "llm/rng.h"
#include "llm/tensor.h"
#include "mlp.h"

namespace lesson03_test {

inline float ref_silu(float x) { return static_cast<float>(x / (1.0 + std::exp(-static_cast<double>(x)))); }
inline float ref_gelu(float x) {
  return static_cast<float>(0.5 * x * (1.0 + std::erf(static_cast<double>(x) / std::sqrt(2.0))));
}
inline float ref_act(float x, llm::Activation act) {
  return act == llm::Activation::kSiLU ? ref_silu(x) : ref_gelu(x);
}

// down(act(gate x) * up x), built from the MLP's public weights with llm::linear.
inline llm::Tensor expected_mlp(const llm::MLP& mlp, const llm::Tensor& x, llm::Activation act) {
  llm::Tensor gate = llm::linear(x, *mlp.gate_proj.weight);    // (..., F)
  const llm::Tensor up = llm::linear(x, *mlp.up_proj.weight);  // (..., F)
  for (llm::Index i = 0; i < gate.numel(); ++i) gate.data()[i] = ref_act(gate.data()[i], act) * up.data()[i];
  return llm::linear(gate, *mlp.down_proj.weight);  // (..., C)
}

// The tiny config (C 32, H 4, KV 2, D 8, F 64) with a wide initialisation, so that every sub-block's
// output is O(1) next to x and a misplaced norm or residual shows (at the default 0.02 the MLP's update
// would be ~1e-3 of x).
inline llm::ModelConfig block_config(int heads = 4, int kv_heads = 2) {
  llm::ModelConfig cfg = llm::ModelConfig::tiny();
  cfg.num_attention_heads = heads;
  cfg.num_key_value_heads = kv_heads;
  cfg.initializer_range = 0.2f;
  return cfg;
}

// A decoder block whose two norms have different, non-unit weights, so swapping them shows.
inline llm::DecoderLayer distinct_norm_layer(const llm::ModelConfig& cfg, std::uint64_t seed) {
  llm::Rng rng(seed);
  llm::DecoderLayer layer(cfg, rng);
  for (llm::Index i = 0; i < cfg.hidden_size; ++i) {
    layer.input_layernorm.weight(i) = 0.5f + 0.05f * static_cast<float>(i);           // 0.5 .. 2.05
    layer.post_attention_layernorm.weight(i) = 2.0f - 0.04f * static_cast<float>(i);  // 2.0 .. 0.76
  }
  return layer;
}

}  // namespace lesson03_test
