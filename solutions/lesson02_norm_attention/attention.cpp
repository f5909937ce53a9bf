// attention.cpp — lesson 02 reference, steps 3, 4 and 6: scaled dot-product attention written the
// clear way, repeat_kv, and grouped-query attention over the KV cache written the fast way.
// Attention::forward could be repeat_kv + scaled_dot_product_attention over the cache's key_states()
// (a test checks that it equals exactly that). It instead reads the cache in place, keys transposed,
// and shares KV heads by index arithmetic: no copy of the past per step, which is what keeps a decode
// step cheap at long contexts (docs/benchmarks.md).
//
// Legend: B batch, T new tokens, P cached positions, S = P + T keys, C hidden, H query heads,
// KV key/value heads, D head_dim, G = H / KV query heads per KV head.
#include "attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "llm/attention_kernels.h"
#include "llm/errors.h"

namespace llm {

// Step 3: the definition, loop by loop.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask) {
  if (q.rank() != 4 || k.rank() != 4 || !(k.shape() == v.shape()))
    fail<ShapeError>("attention: q ", q.shape().str(), ", k ", k.shape().str(), ", v ", v.shape().str(),
                     " must be (B, H, T, D), (B, H, S, D), (B, H, S, D)");
  const Index B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3), S = k.size(2);
  if (k.size(0) != B || k.size(1) != H || k.size(3) != D)
    fail<ShapeError>("attention: q ", q.shape().str(), " and k ", k.shape().str(),
                     " disagree on batch, heads or head_dim");
  if (mask && !(mask->shape() == Shape{B, T, S}))
    fail<ShapeError>("attention mask has shape ", mask->shape().str(), ", expected (", B, ", ", T, ", ", S,
                     ")");
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  Tensor out(Shape{B, H, T, D});                 // (B, H, T, D)
  std::vector<float> w(static_cast<size_t>(S));  // (S) one query's weights
  for (Index b = 0; b < B; ++b)
    for (Index h = 0; h < H; ++h)
      for (Index t = 0; t < T; ++t) {
        const float* qt = &q(b, h, t, 0);
        float max = -std::numeric_limits<float>::infinity();
        for (Index s = 0; s < S; ++s) {
          float dot = 0.0f;
          for (Index d = 0; d < D; ++d) dot += qt[d] * k(b, h, s, d);
          w[static_cast<size_t>(s)] = dot * scale + (mask ? (*mask)(b, t, s) : 0.0f);
          max = std::max(max, w[static_cast<size_t>(s)]);
        }
        if (max == -std::numeric_limits<float>::infinity()) continue;  // nothing visible: zeros
        float sum = 0.0f;
        for (float& x : w) sum += x = std::exp(x - max);  // exp(-inf) = 0 drops masked keys
        float* ot = &out(b, h, t, 0);
        for (Index s = 0; s < S; ++s)
          for (Index d = 0; d < D; ++d) ot[d] += w[static_cast<size_t>(s)] / sum * v(b, h, s, d);
      }
  return out;
}

// Step 4.
Tensor repeat_kv(const Tensor& x, Index n_rep) {
  if (x.rank() != 4) fail<ShapeError>("repeat_kv input must be (B, KV, S, D), got ", x.shape().str());
  if (n_rep < 1) fail<InvalidArgument>("repeat_kv: n_rep = ", n_rep, " must be >= 1");
  const Index B = x.size(0), KV = x.size(1), S = x.size(2), D = x.size(3);
  Tensor out(Shape{B, KV * n_rep, S, D});  // (B, H, S, D)
  for (Index b = 0; b < B; ++b)
    for (Index h = 0; h < KV * n_rep; ++h) std::copy_n(&x(b, h / n_rep, 0, 0), S * D, &out(b, h, 0, 0));
  return out;
}

// Step 6.
Tensor Attention::forward(const Tensor& x, const IdTensor& positions, const Tensor* mask, LayerKVCache* cache,
                          const RotaryEmbedding& rope) const {
  if (num_kv_heads_ <= 0 || !q_proj.weight)
    fail<InvalidArgument>("Attention::forward on an attention without weights (num_kv_heads = ",
                          num_kv_heads_, "): build it with Attention(config, rng)");
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

  // pass 3: per (batch row, query head, new token): its scores against the S keys, softmax, and the
  // weighted sum of the values — the definition of step 3, one query at a time, each pass one sweep
  // over memory the cache already holds in the right order (llm/attention_kernels.h; docs/benchmarks.md):
  //   scores: the keys are stored transposed, (D, capacity), so q . k_j for eight keys at a time is
  //           D multiply-adds over contiguous stretches of the cache's rows;
  //   values: out = sum_j p_j v_j, over the rows of the (capacity, D) values.
  Tensor attn(Shape{B, T, H * D});                // (B, T, H*D), heads concatenated; zeros: summed into
  std::vector<float> w(static_cast<size_t>(S));   // (S) one query's scores, then its softmax weights
  std::vector<float> qs(static_cast<size_t>(D));  // (D) one query, scaled by 1 / sqrt(D) once
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  for (Index b = 0; b < B; ++b)
    for (Index h = 0; h < H; ++h) {
      const Index kvh = h / G;                      // GQA: G consecutive query heads share one KV head
      const float* keys = cache->keys(b, kvh);      // (D, capacity): column j is the key of position j
      const float* values = cache->values(b, kvh);  // (capacity, D): row j is the value of position j
      for (Index t = 0; t < T; ++t) {
        for (Index d = 0; d < D; ++d) qs[static_cast<size_t>(d)] = q(b, t, h * D + d) * scale;
        scores_transposed(qs.data(), keys, D, cache->capacity(), S, w.data());  // q . k_j / sqrt(D)
        if (mask)
          for (Index j = 0; j < S; ++j) w[static_cast<size_t>(j)] += (*mask)(b, t, j);
        // softmax with the max subtracted: exp(-inf) = 0 removes masked keys exactly
        const float sum = softmax_numerators(w);
        if (sum == 0.0f) continue;  // nothing visible (a padding query): output zeros, not NaN
        const float inv_sum = 1.0f / sum;
        float* out = &attn(b, t, h * D);  // (D)
        accumulate_values(w.data(), values, D, S, out);
        for (Index d = 0; d < D; ++d) out[d] *= inv_sum;
      }
    }
  return o_proj.forward(attn);  // (B, T, C)
}

}  // namespace llm
