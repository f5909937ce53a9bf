// attention.cpp — grouped-query attention over the KV cache.
//
// Legend: B batch, T new tokens, P cached positions, S = P + T keys, C hidden, H query heads,
// KV key/value heads, D head_dim, G = H / KV query heads per KV head.
#include "attention.h"

#include <cmath>
#include <limits>
#include <optional>

#include "llm/eigen_view.h"

namespace llm {

Attention::Attention(const ModelConfig& config, Rng& rng)
    : num_heads_(config.num_attention_heads),
      num_kv_heads_(config.num_key_value_heads),
      head_dim_(config.head_dim()) {
  const Index C = config.hidden_size, std_h = num_heads_ * head_dim_, kv = num_kv_heads_ * head_dim_;
  const float std = config.initializer_range;
  q_proj = Linear::random(std_h, C, rng, std);
  k_proj = Linear::random(kv, C, rng, std);
  v_proj = Linear::random(kv, C, rng, std);
  o_proj = Linear::random(C, std_h, rng, std);
}

// A (rows, D) view of one head inside a (rows, n_heads*D) activation: rows are n_heads*D apart.
using HeadMap = Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>>;
using ConstHeadMap = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;

Tensor Attention::forward(const Tensor& x, const IdTensor& positions, const Tensor* mask, LayerKVCache* cache,
                          const RotaryEmbedding& rope) const {
  if (x.rank() != 3) fail<ShapeError>("attention input must be (B, T, C), got ", x.shape().str());
  const Index B = x.size(0), T = x.size(1), H = num_heads_, KV = num_kv_heads_, D = head_dim_;
  const Index G = H / KV;

  // pass 1: project the new tokens and rotate q and k by their positions.
  Tensor q = q_proj.forward(x);  // (B, T, H*D)
  Tensor k = k_proj.forward(x);  // (B, T, KV*D)
  Tensor v = v_proj.forward(x);  // (B, T, KV*D)
  rope.apply(q, positions, H);
  rope.apply(k, positions, KV);

  // pass 2: store the new K/V. Without a caller's cache, a local one spans just these T tokens.
  std::optional<LayerKVCache> local;
  if (cache == nullptr) cache = &local.emplace(B, KV, T, D);
  if (cache->batch() != B || cache->num_kv_heads() != KV || cache->head_dim() != D)
    fail<ShapeError>("KV cache (batch ", cache->batch(), ", kv_heads ", cache->num_kv_heads(), ", head_dim ",
                     cache->head_dim(), ") does not fit this attention (batch ", B, ", kv_heads ", KV,
                     ", head_dim ", D, ")");
  const Index P = cache->length();
  const Index S = P + T;
  if (mask && !(mask->shape() == Shape{B, T, S}))
    fail<ShapeError>("attention mask has shape ", mask->shape().str(), ", expected (", B, ", ", T, ", ", S,
                     ") = (batch, new tokens, cached + new)");
  cache->append(k, v);  // only the new positions are computed; the past comes from the cache

  // pass 3: per (batch row, query head): scores = q K^T / sqrt(D) + mask, softmax, weighted sum of V.
  Tensor attn(Shape{B, T, H * D});  // (B, T, H*D), heads concatenated
  RowMatrix scores(T, S);           // (T, S), reused across heads
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  for (Index b = 0; b < B; ++b) {
    for (Index h = 0; h < H; ++h) {
      const Index kvh = h / G;  // GQA: G consecutive query heads share one KV head
      // Keys are stored transposed: (D, S) with rows capacity() apart, so q K^T needs no transpose.
      const ConstHeadMap keys_t(cache->keys(b, kvh), D, S, Eigen::OuterStride<>(cache->capacity()));
      const ConstMatrixMap values = as_matrix(cache->values(b, kvh), S, D);  // (S, D)
      const ConstHeadMap qh(q.data() + (b * T) * H * D + h * D, T, D, Eigen::OuterStride<>(H * D));
      HeadMap out(attn.data() + (b * T) * H * D + h * D, T, D, Eigen::OuterStride<>(H * D));

      scores.noalias() = (qh * keys_t) * scale;  // (T, D) x (D, S)
      if (mask) scores += as_matrix(mask->data() + b * T * S, T, S);
      for (Index t = 0; t < T; ++t) {
        const float max = scores.row(t).maxCoeff();
        if (max == kNegInf) {  // nothing visible (a padding query): output zeros, not NaN
          scores.row(t).setZero();
          continue;
        }
        // softmax with the max subtracted: exp(-inf) = 0 removes masked keys exactly
        scores.row(t) = (scores.row(t).array() - max).exp().matrix();
        scores.row(t) /= scores.row(t).sum();
      }
      out.noalias() = scores * values;  // (T, S) x (S, D)
    }
  }
  return o_proj.forward(attn);  // (B, T, C)
}

}  // namespace llm
