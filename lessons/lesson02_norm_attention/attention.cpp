// attention.cpp — YOUR lesson 02 work, exercises 2 and 3: scaled dot-product attention, repeat_kv and
// grouped-query attention with a KV cache. The reference is solutions/lesson02_norm_attention/.
//
// Legend: B batch, T new tokens, P cached positions, S = P + T keys, C hidden, H query heads,
// KV key/value heads, D head_dim, G = H / KV.
#include "attention.h"

#include "llm/errors.h"

namespace llm {

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask) {
  // TODO(step 3): per (b, h, t): scores_s = q.k_s / sqrt(D) + mask[b][t][s]; softmax over s;
  //   out = sum_s p_s v_s. An all-masked row gives zeros.
  (void)q, (void)k, (void)v, (void)mask;
  throw NotImplemented("lesson02 step 3: scaled dot-product attention");
}

Tensor repeat_kv(const Tensor& x, Index n_rep) {
  // TODO(step 4): (B, KV, S, D) -> (B, KV * n_rep, S, D); output head h is input head h / n_rep.
  (void)x, (void)n_rep;
  throw NotImplemented("lesson02 step 4: repeat_kv (share each KV head with G query heads)");
}

Tensor Attention::forward(const Tensor& x, const IdTensor& positions, const Tensor* mask, LayerKVCache* cache,
                          const RotaryEmbedding& rope) const {
  // TODO(step 6): q/k/v projections; RoPE on q (H heads) and k (KV heads); append k, v to the cache
  //   (a local one of T positions when cache is nullptr); attend over all cached positions with the
  //   caller's mask (none when nullptr); o_proj.
  (void)x, (void)positions, (void)mask, (void)cache, (void)rope;
  throw NotImplemented("lesson02 step 6: grouped-query attention with the KV cache");
}

}  // namespace llm
