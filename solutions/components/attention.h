// attention.h — grouped-query self-attention with q/k/v/o projections, RoPE and a KV cache.
// H query heads share KV key/value heads: query head h reads KV head h / (H / KV). The repeated heads
// are never materialised; the index arithmetic does the sharing. No dropout, no bias, no sliding window.
#pragma once

#include "kv_cache.h"
#include "layers.h"
#include "llm/config.h"
#include "rope.h"

namespace llm {

class Attention {
 public:
  Attention() = default;
  Attention(const ModelConfig& config, Rng& rng);  // projections drawn N(0, initializer_range^2)

  Linear q_proj;  // (H*D, C)
  Linear k_proj;  // (KV*D, C)
  Linear v_proj;  // (KV*D, C)
  Linear o_proj;  // (C, H*D)

  Index num_heads() const { return num_heads_; }
  Index num_kv_heads() const { return num_kv_heads_; }
  Index head_dim() const { return head_dim_; }

  // x: (B, T, C), already normalised.  positions: (B, T), used for RoPE.
  // mask: additive (B, T, P+T) with 0 = may attend and -inf = may not, P = positions already in the
  //       cache; nullptr = every query sees every key (no causal mask is implied).
  // cache: this layer's KV cache; the T new K/V are appended to it. nullptr = attend within x only.
  // A query row whose keys are all masked gets a zero output (e.g. a padding query), not NaN.
  // Returns (B, T, C).
  Tensor forward(const Tensor& x, const IdTensor& positions, const Tensor* mask, LayerKVCache* cache,
                 const RotaryEmbedding& rope) const;

 private:
  Index num_heads_ = 0, num_kv_heads_ = 0, head_dim_ = 0;
};

}  // namespace llm
