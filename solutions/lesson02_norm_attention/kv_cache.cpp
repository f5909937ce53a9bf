// kv_cache.cpp — lesson 02 reference, step 5: appending new keys and values to a layer's cache.
#include "kv_cache.h"

#include <algorithm>

#include "llm/errors.h"

namespace llm {

// Step 5.
void LayerKVCache::append(const Tensor& k_new, const Tensor& v_new) {
  const Index B = batch(), KV = num_kv_heads(), D = head_dim();
  if (k_new.rank() != 3 || k_new.size(0) != B || k_new.size(2) != KV * D)
    fail<ShapeError>("new keys have shape ", k_new.shape().str(), ", the cache expects (", B, ", T, ",
                     KV * D, ")");
  if (!(v_new.shape() == k_new.shape()))
    fail<ShapeError>("new values ", v_new.shape().str(), " and keys ", k_new.shape().str(), " differ");
  const Index T = k_new.size(1);
  if (length_ + T > capacity())
    fail<InvalidArgument>("KV cache overflow: ", length_, " cached + ", T, " new positions exceed capacity ",
                          capacity());
  // Scatter (B, T, KV*D) into the per-head blocks: V (capacity, D) row by row, K (D, capacity) column
  // by column.
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T; ++t) {
      const float* k_src = k_new.row(b, t).data();
      const float* v_src = v_new.row(b, t).data();
      for (Index h = 0; h < KV; ++h) {
        // Keys go into column (length + t) of the head's (D, capacity) block; values into a row.
        for (Index d = 0; d < D; ++d) k_(b, h, d, length_ + t) = k_src[h * D + d];
        std::copy_n(v_src + h * D, D, &v_(b, h, length_ + t, 0));
      }
    }
  length_ += T;
}

}  // namespace llm
