// attention.cpp — YOUR lesson 02 work, exercise 2 (steps 3 and 4: scaled dot-product attention and
// repeat_kv) and the second half of exercise 3 (step 6: the attention layer with GQA, RoPE and the KV
// cache). Each TODO is a step of README.md; each throws until you write it.
// The reference is solutions/lesson02_norm_attention/attention.cpp — try before you look.
//
// Legend: B batch, T new tokens, P cached positions, S = P + T keys, C hidden, H query heads,
// KV key/value heads, D head_dim, G = H / KV.
#include "attention.h"

#include "llm/errors.h"

namespace llm {

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask) {
  // TODO(step 3): ShapeError naming the shapes unless q is (B, H, T, D), k and v are both (B, H, S, D)
  //   with q's B, H and D, and mask (when given) is (B, T, S).
  //   Then for every (b, h, t):
  //     score_s = (q[b][h][t] . k[b][h][s]) / sqrt(D) + mask[b][t][s]   (+ 0 without a mask)
  //     p = softmax(score) over s — subtract the largest score before exp(), so large scores do not
  //         overflow; exp(-inf) = 0 removes a masked key;
  //     out[b][h][t] = sum_s p_s v[b][h][s].
  //   If every score of the row is -inf (all keys masked), leave that output row at zero: no NaN.
  (void)q, (void)k, (void)v, (void)mask;
  throw NotImplemented("lesson02 step 3: scaled dot-product attention");
}

Tensor repeat_kv(const Tensor& x, Index n_rep) {
  // TODO(step 4): InvalidArgument naming n_rep when n_rep < 1; ShapeError unless x is 4-D.
  //   (B, KV, S, D) -> (B, KV * n_rep, S, D): output head h is a copy of input head h / n_rep, so each
  //   KV head appears n_rep times in a row (0 0 1 1 for KV = 2, n_rep = 2) — never h % KV (0 1 0 1).
  (void)x, (void)n_rep;
  throw NotImplemented("lesson02 step 4: repeat_kv (share each KV head with G query heads)");
}

Tensor Attention::forward(const Tensor& x, const IdTensor& positions, const Tensor* mask, LayerKVCache* cache,
                          const RotaryEmbedding& rope) const {
  // TODO(step 6): grouped-query self-attention over the cache.
  //   1. q = q_proj(x) (B, T, H*D), k = k_proj(x) and v = v_proj(x) (B, T, KV*D);
  //      rope.apply(q, positions, H) and rope.apply(k, positions, KV) — never on v.
  //   2. Without a cache, use a local LayerKVCache(B, KV, T, D). P = cache->length(), S = P + T.
  //      ShapeError unless the mask (when given) is (B, T, S) — check it BEFORE appending, so a refused
  //      call leaves the cache as it was. Then cache->append(k, v): the cache holds KV heads, rotated keys.
  //   3. Attend: query head h reads KV head h / G over all S cached positions, with the caller's mask
  //      added as it is (nullptr = no mask at all: no causal mask of your own).
  //      The straightforward way is your steps 3 and 4: split q into heads (B, H, T, D), then
  //      scaled_dot_product_attention(q_heads, repeat_kv(cache->key_states(), G),
  //                                   repeat_kv(cache->value_states(), G), mask).
  //      (The reference reads the cache in place instead — faster, same result.)
  //   4. Concatenate the heads back to (B, T, H*D) and return o_proj of it: (B, T, C).
  (void)x, (void)positions, (void)mask, (void)cache, (void)rope;
  throw NotImplemented("lesson02 step 6: grouped-query attention with the KV cache");
}

}  // namespace llm
