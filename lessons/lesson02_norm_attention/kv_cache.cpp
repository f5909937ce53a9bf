// kv_cache.cpp — YOUR lesson 02 work: appending to a layer's KV cache (the rest of the cache is given).
// The reference is solutions/lesson02_norm_attention/kv_cache.cpp — try before you look.
//
// Legend: B batch, T new positions, KV key/value heads, D head_dim.
#include "kv_cache.h"

#include "llm/errors.h"

namespace llm {

void LayerKVCache::append(const Tensor& k_new, const Tensor& v_new) {
  // TODO(step 5): check shapes (B, T, KV*D) and room (length + T <= capacity); write V rows into
  //   v_(b, h, length + t, :) and K *transposed* into k_(b, h, :, length + t); length += T.
  (void)k_new, (void)v_new;
  throw NotImplemented("lesson02 step 5: append new keys and values to the cache");
}

}  // namespace llm
