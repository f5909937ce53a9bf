// kv_cache.cpp — YOUR lesson 02 work, exercise 3 (first half): appending to a layer's KV cache. The rest
// of the cache (allocation, crop, key_states(), byte counts, KVCache) is given in given.cpp.
// The reference is solutions/lesson02_norm_attention/kv_cache.cpp — try before you look.
//
// Legend: B batch, T new positions, KV key/value heads, D head_dim.
#include "kv_cache.h"

#include "llm/errors.h"

namespace llm {

void LayerKVCache::append(const Tensor& k_new, const Tensor& v_new) {
  // TODO(step 5): check first, write after, so a refused call changes nothing:
  //   - ShapeError unless k_new is (B, T, KV*D) for this cache's B, KV and D, and v_new has k_new's shape;
  //   - InvalidArgument when length_ + T > capacity(), naming length_, T and the capacity.
  //   Then for every b, t and KV head h (columns [h*D, (h+1)*D) of row (b, t)):
  //     v_(b, h, length_ + t, d) = v_new(b, t, h*D + d)   (values: one row per position)
  //     k_(b, h, d, length_ + t) = k_new(b, t, h*D + d)   (keys TRANSPOSED: one column per position)
  //   and finally length_ += T.
  (void)k_new, (void)v_new;
  throw NotImplemented("lesson02 step 5: append new keys and values to the cache");
}

}  // namespace llm
