// paged_attention.h — lesson 06's contract, part 3: attention over a paged cache. The keys and values
// of one sequence are scattered over the blocks its table names; store_kv() writes new ones into their
// slots, paged_attention() reads them back through the table, block by block, without first copying
// them into one contiguous buffer. Grouped-query attention as in lesson 02: query head h reads KV head
// h / G. The same function serves a prefill chunk (T new tokens) and a decode step (T = 1).
// Not here: several sequences in one call (lesson 07), sliding windows, ALiBi, quantised blocks.
//
// Dimension legend (docs/dimensions.md): T new tokens, P positions before them, S = P + T, H query
// heads, KV key/value heads, G = H / KV, D head_dim, BS block_size.
#pragma once

#include "block_table.h"
#include "llm/tensor.h"

namespace llm {

// Step 3a. Writes the keys and values of T new tokens, which sit at positions first .. first+T-1 of
// `table`, into their slots of layer `layer`.
//   k, v: (T, KV*D), straight from the K/V projections (K after RoPE); KV head g is columns
//         [g*D, (g+1)*D).
// The slots must exist (BlockTable::append first): InvalidArgument naming the positions and the table's
// length unless 0 <= first and first + T <= N, or for a layer outside [0, L). ShapeError unless k and v
// are both (T, KV*D) with the pool's KV and D, T >= 1.
void store_kv(const BlockTable& table, Index layer, Index first, const Tensor& k, const Tensor& v);

// Step 3b. Causal attention of T new queries over the sequence's cache, in layer `layer`.
//   q: (T, H*D), the queries of positions first .. first+T-1 (after RoPE), H a multiple of KV.
//   Query t sits at position first + t and attends to positions 0 .. first + t, whose keys and values
//   must already be stored (its own included: store_kv first).
// Returns (T, H*D): per query head, softmax(q k^T / sqrt(D)) v over the visible positions — exactly
// lesson 02's scaled_dot_product_attention with a causal mask, read through the block table.
// InvalidArgument unless 0 <= first and first + T <= N, or for a layer outside [0, L); ShapeError unless q
// is (T, H*D) with T >= 1 and H a multiple of the pool's KV.
Tensor paged_attention(const BlockTable& table, Index layer, Index first, const Tensor& q);

}  // namespace llm
