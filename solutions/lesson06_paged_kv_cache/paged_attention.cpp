// paged_attention.cpp — lesson 06 reference, step 3: writing new keys and values into their slots, and
// causal grouped-query attention read through the block table, block by block. Nothing is gathered
// into a contiguous buffer: each block is used where it lies, which is all the indirection costs (a
// pointer per block and a loop per block instead of one loop over every position; docs/benchmarks.md).
//
// Legend: T new tokens, P positions before them (here `first`), S = P + T, H query heads, KV key/value
// heads, G = H / KV, D head_dim, BS block_size.
#include "paged_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "llm/attention_kernels.h"
#include "llm/errors.h"

namespace llm {

// Both steps refuse positions without a slot before they touch anything.
static void check_positions(const BlockTable& table, Index layer, Index first, Index T, const char* what) {
  if (layer < 0 || layer >= table.pool().num_layers())
    fail<InvalidArgument>(what, ": layer ", layer, " is out of range [0, ", table.pool().num_layers(), ")");
  if (first < 0 || first + T > table.length())
    fail<InvalidArgument>(what, ": positions [", first, ", ", first + T,
                          ") are outside the block table's [0, ", table.length(),
                          "): append() the slots first");
}

// Step 3a.
void store_kv(const BlockTable& table, Index layer, Index first, const Tensor& k, const Tensor& v) {
  BlockPool& pool = table.pool();
  const Index KV = pool.num_kv_heads(), D = pool.head_dim(), BS = pool.block_size();
  if (k.rank() != 2 || k.size(0) < 1 || k.size(1) != KV * D || !(v.shape() == k.shape()))
    fail<ShapeError>("store_kv: k ", k.shape().str(), " and v ", v.shape().str(),
                     " must both be (T, KV*D) = (T, ", KV * D, ") with T >= 1");
  const Index T = k.size(0);
  check_positions(table, layer, first, T, "store_kv");
  for (Index t = 0; t < T; ++t) {
    const Slot s = table.slot(first + t);  // position first + t -> (block, offset)
    const float* k_src = k.data() + t * KV * D;
    const float* v_src = v.data() + t * KV * D;
    for (Index g = 0; g < KV; ++g) {
      float* k_blk = pool.keys(layer, s.block, g);  // (D, BS): the key is column `offset`
      for (Index d = 0; d < D; ++d) k_blk[d * BS + s.offset] = k_src[g * D + d];
      std::copy_n(v_src + g * D, D, pool.values(layer, s.block, g) + s.offset * D);  // (BS, D): row `offset`
    }
  }
}

// Step 3b.
Tensor paged_attention(const BlockTable& table, Index layer, Index first, const Tensor& q) {
  const BlockPool& pool = table.pool();
  const Index KV = pool.num_kv_heads(), D = pool.head_dim(), BS = pool.block_size();
  if (q.rank() != 2 || q.size(0) < 1 || q.size(1) % D != 0 || q.size(1) / D % KV != 0 || q.size(1) == 0)
    fail<ShapeError>("paged_attention: q ", q.shape().str(), " must be (T, H*D) with T >= 1, D = ", D,
                     " and H a multiple of KV = ", KV);
  const Index T = q.size(0), H = q.size(1) / D, G = H / KV;
  check_positions(table, layer, first, T, "paged_attention");
  const Index S = first + T;                 // the last query sees positions 0 .. S-1
  const Index n_blocks = (S + BS - 1) / BS;  // the table's blocks those positions fill
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));

  Tensor out(Shape{T, H * D});                            // (T, H*D), zeros: pass 3 accumulates into it
  std::vector<float> scores(static_cast<size_t>(G * S));  // (G, S) the queries' scores, then their weights
  std::vector<float> qs(static_cast<size_t>(G * D));      // (G, D) the queries, scaled by 1 / sqrt(D) once
  std::vector<float> inv_sum(static_cast<size_t>(G));     // (G) 1 / each query's softmax denominator
  std::vector<const float*> k_blk(static_cast<size_t>(n_blocks)), v_blk(static_cast<size_t>(n_blocks));
  for (Index g = 0; g < KV; ++g) {
    // The table, resolved once per KV head: logical block i -> its (D, BS) keys and (BS, D) values.
    for (Index i = 0; i < n_blocks; ++i) {
      const BlockId id = table.blocks()[static_cast<size_t>(i)];
      k_blk[static_cast<size_t>(i)] = pool.keys(layer, id, g);
      v_blk[static_cast<size_t>(i)] = pool.values(layer, id, g);
    }
    const Index h0 = g * G;  // GQA: query heads h0 .. h0 + G - 1 share KV head g
    for (Index t = 0; t < T; ++t) {
      const Index visible = first + t + 1;  // causal: position first + t sees 0 .. first + t
      for (Index h = 0; h < G; ++h)
        for (Index d = 0; d < D; ++d)
          qs[static_cast<size_t>(h * D + d)] = q.data()[t * H * D + (h0 + h) * D + d] * scale;
      // pass 1: scores_j = q . k_j / sqrt(D), block by block through the table, for the G query heads of
      // this KV head while the block is in L1 (read once, not G times). Keys are stored transposed, so
      // each of the D terms is a multiply-add over the block's positions (vectorised).
      for (Index i = 0; i * BS < visible; ++i)
        for (Index h = 0; h < G; ++h)
          scores_transposed(qs.data() + h * D, k_blk[static_cast<size_t>(i)], D, BS,
                            std::min(BS, visible - i * BS), scores.data() + h * S + i * BS);
      // pass 2: softmax over the visible positions of each query, the largest score subtracted first.
      for (Index h = 0; h < G; ++h)
        inv_sum[static_cast<size_t>(h)] =
            1.0f / softmax_numerators({scores.data() + h * S, static_cast<size_t>(visible)});
      // pass 3: out = sum_j w_j v_j / sum, block by block, again G queries per block.
      float* o = out.data() + t * H * D + h0 * D;  // (G, D): the group's heads are adjacent
      for (Index i = 0; i * BS < visible; ++i)
        for (Index h = 0; h < G; ++h)
          accumulate_values(scores.data() + h * S + i * BS, v_blk[static_cast<size_t>(i)], D,
                            std::min(BS, visible - i * BS), o + h * D);
      for (Index h = 0; h < G; ++h)
        for (Index d = 0; d < D; ++d) o[h * D + d] *= inv_sum[static_cast<size_t>(h)];
    }
  }
  return out;
}

}  // namespace llm
