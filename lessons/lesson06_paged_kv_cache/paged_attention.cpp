// paged_attention.cpp — YOUR lesson 06 work, step 3: writing new keys and values into their slots, and
// causal grouped-query attention read through the block table. The reference is
// solutions/lesson06_paged_kv_cache/paged_attention.cpp — try before you look.
//
// Legend: T new tokens, `first` their first position, S = first + T, H query heads, KV key/value heads,
// G = H / KV, D head_dim, BS block_size.
#include "paged_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "llm/errors.h"

namespace llm {

void store_kv(const BlockTable& table, Index layer, Index first, const Tensor& k, const Tensor& v) {
  // TODO(step 3): check first, write after, so a refused call changes nothing:
  //   - ShapeError unless k and v are both (T, KV*D) with T >= 1 (KV, D: table.pool()'s);
  //   - InvalidArgument naming the layer unless 0 <= layer < L, and naming the positions and the
  //     table's length unless 0 <= first and first + T <= table.length().
  //   Then for every t, with s = table.slot(first + t), and every KV head g:
  //     keys   (D, BS) at pool.keys(layer, s.block, g):   row d, column s.offset = k(t, g*D + d)
  //     values (BS, D) at pool.values(layer, s.block, g): row s.offset, column d = v(t, g*D + d)
  (void)table, (void)layer, (void)first, (void)k, (void)v;
  throw NotImplemented("lesson06 step 3: store_kv (write new keys and values into their slots)");
}

Tensor paged_attention(const BlockTable& table, Index layer, Index first, const Tensor& q) {
  // TODO(step 3): the same checks as store_kv (ShapeError unless q is (T, H*D), T >= 1, H a multiple
  //   of KV). Then for every query head h (KV head g = h / G) and every t, at position first + t:
  //     visible positions j = 0 .. first + t (causal);
  //     score_j = (q[t, h] . key_j) / sqrt(D), reading key_j from block table.blocks()[j / BS],
  //               column j % BS of its (D, BS) keys;
  //     w = softmax(scores) — subtract the largest score before exp();
  //     out[t, h] = sum_j w_j value_j, value_j = row j % BS of the block's (BS, D) values.
  //   Read the blocks where they are: no copy of the whole cache into one buffer.
  (void)table, (void)layer, (void)first, (void)q;
  throw NotImplemented("lesson06 step 3: paged attention (read keys and values through the block table)");
}

}  // namespace llm
