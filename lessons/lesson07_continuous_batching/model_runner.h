// model_runner.h — lesson 07's contract, part 3: ONE forward pass over the chunks of many sequences of
// different lengths. Their new tokens are laid end to end in one (Ttot, C) matrix — the "varlen" or
// flattened layout — so that every projection, the MLP and the LM head read each weight matrix once per
// step for all Ttot tokens (matrix-matrix work) instead of once per token (matrix-vector work). Only
// attention is per sequence: each one's queries read its own keys and values through its own block
// table (lesson 06's store_kv and paged_attention). Orca calls this "selective batching".
// Not here: padding (there is none), CUDA graphs, tensor parallelism, sampling (the engine samples).
//
// Dimension legend (docs/dimensions.md): Ttot = sum of T_i, the tokens of every sequence in the batch;
// T_i one sequence's new tokens; P_i its positions already in its table; R the sequences that want
// logits; C hidden_size, V vocab_size, H query heads, KV key/value heads, D head_dim.
#pragma once

#include <cstdint>
#include <span>

#include "block_table.h"  // lesson 06 (reference)
#include "causal_lm.h"    // lesson 04 (reference): the model whose weights are used
#include "llm/tensor.h"

namespace llm {

// One sequence's part of a batched forward pass.
struct BatchEntry {
  const BlockTable* table = nullptr;     // its block table; the slots of positions first .. first+T-1
                                         // must exist already (the scheduler appended them)
  Index first = 0;                       // P_i: the position of its first new token
  std::span<const std::int32_t> tokens;  // (T_i) its new tokens, T_i >= 1
  bool wants_logits = false;             // return the logits of its LAST new token
};

// Step 3. Runs every entry's new tokens through `model` at once and returns (R, V): the logits of the
// last token of each entry with wants_logits, in batch order — a prefill chunk that does not finish its
// prompt needs none, and the LM head (V x C per row) is run for those R rows only.
//   x (Ttot, C): the embeddings of all new tokens, entry after entry; token t of entry i sits at
//   position P_i + t. Per layer: input norm; q, k, v projections of all Ttot rows at once; RoPE, each
//   row at its own position; then per entry: store_kv of its rows and paged_attention of its query rows
//   through its table; o_proj of all rows at once, residual; post-attention norm, MLP of all rows,
//   residual. Then the final norm and the LM head of the R rows wanted.
// Each row of the result equals what lesson 06's paged_forward would give that sequence alone.
// check_batch runs first, before any K/V is written.
Tensor batched_forward(const CausalLM& model, std::span<const BatchEntry> batch);

// Given. InvalidArgument naming the entry, the value and the limit for: an empty batch; an entry without
// a table or tokens; token ids outside [0, V); positions without a slot (first < 0 or first + T_i beyond
// the table's length: "append the slots first"); first + T_i beyond max_position_embeddings; a pool made
// for another model shape; two entries with the same table (they would write the same slots).
void check_batch(const ModelConfig& config, std::span<const BatchEntry> batch);

}  // namespace llm
