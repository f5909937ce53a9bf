// attention.h — lesson 02's contract, part 2: scaled dot-product attention, and multi-head /
// grouped-query self-attention with q/k/v/o projections, RoPE and a KV cache.
// H query heads share KV key/value heads: query head h reads KV head h / (H / KV) (H == KV is plain
// multi-head attention, KV == 1 multi-query). The cache stores the KV heads, before any repetition.
// The mask is the caller's: attention adds it and applies no causal mask of its own.
// Not here: dropout, biases, sliding windows, ALiBi, flash-attention tiling.
//
// Dimension legend (docs/dimensions.md): B batch, T new tokens (queries), P cached positions,
// S = P + T keys, C hidden_size, H query heads, KV key/value heads, D head_dim, G = H / KV.
#pragma once

#include "kv_cache.h"
#include "llm/config.h"
#include "llm/linear.h"
#include "rope.h"

namespace llm {

// softmax(q k^T / sqrt(D) + mask) v, per batch row and head.
//   q: (B, H, T, D)   k, v: (B, H, S, D)   mask: additive (B, T, S) — 0 = may attend, -inf = may
//   not — shared by every head, or nullptr: every query sees every key. Returns (B, H, T, D).
// A query row whose keys are all masked gets zeros (e.g. a padding query), not NaN.
// ShapeError naming both shapes when they disagree.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor* mask = nullptr);

// Hugging Face's repeat_kv: (B, KV, S, D) -> (B, KV * n_rep, S, D), KV head j repeated n_rep times
// in a row, so output head h is input head h / n_rep. InvalidArgument when n_rep < 1.
Tensor repeat_kv(const Tensor& x, Index n_rep);

class Attention {
 public:
  Attention() = default;
  // Given: validates the config (InvalidArgument, e.g. H not divisible by KV), then draws the projections
  // N(0, initializer_range^2) in the order q, k, v, o.
  Attention(const ModelConfig& config, Rng& rng);
  // Given: from existing weights (a loaded checkpoint), nothing drawn. Validates the config; ShapeError
  // naming the projection unless q is (H*D, C), k and v (KV*D, C), o (C, H*D).
  Attention(const ModelConfig& config, Linear q, Linear k, Linear v, Linear o);

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
  // cache: this layer's KV cache; the T new K/V (after RoPE, KV heads) are appended to it, and the
  //        queries attend to all P + T cached positions. nullptr = attend within x only.
  // A query row whose keys are all masked gets a zero output (e.g. a padding query), not NaN.
  // Returns (B, T, C).
  Tensor forward(const Tensor& x, const IdTensor& positions, const Tensor* mask, LayerKVCache* cache,
                 const RotaryEmbedding& rope) const;

 private:
  Index num_heads_ = 0, num_kv_heads_ = 0, head_dim_ = 0;
};

}  // namespace llm
