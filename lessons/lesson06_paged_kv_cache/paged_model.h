// paged_model.h — lesson 06's contract, part 5: the lesson-04 model running on the paged cache. A
// forward pass of one sequence's new tokens through its block table (a prefill chunk or a decode step),
// and a greedy generation loop on top of it that uses the prefix cache. The weights are lesson 04's
// CausalLM (reference) — its embedding, decoder blocks, final norm and LM head — untouched; only where
// the keys and values live changes. Not here: sampling other than greedy, several sequences in one
// forward pass (lesson 07's continuous batching), speculative decoding.
//
// Dimension legend (docs/dimensions.md): T new tokens, P positions already in the table, C hidden_size,
// V vocab_size, L layers, H query heads, KV key/value heads, D head_dim, BS block_size.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "block_pool.h"
#include "block_table.h"
#include "llm/config.h"
#include "llm/tensor.h"
#include "prefix_cache.h"

namespace llm {

class CausalLM;  // lesson 04 (reference, causal_lm.h): the model whose weights are used

// Step 6. Runs the T new tokens of one sequence through `model`, on top of the P positions `table`
// already holds; they sit at positions P .. P+T-1. The table grows by T first (BlockTable::append: a
// full pool throws OutOfBlocks before anything changed); then per layer: input norm, q/k/v projections,
// RoPE at positions P.., store_kv, paged_attention, o_proj, residual, post-attention norm, MLP, residual;
// then the final norm and the LM head. Returns the logits (T, V), row t for position P + t — the same
// numbers lesson 04's forward() gives at those positions. check_paged_forward runs first.
Tensor paged_forward(const CausalLM& model, BlockTable& table, std::span<const std::int32_t> tokens);

struct PagedGenerateOptions {
  int max_new_tokens = 100;
  std::optional<std::int32_t> eos_token_id;  // generation stops after producing it (it is kept)
  Index prefill_chunk = 0;                   // > 0: the uncached prompt goes through in chunks of at
                                             // most this many tokens (chunked prefill); 0: all at once
  PrefixCache* prefix_cache = nullptr;       // reuse cached prompt blocks, publish full blocks
};

struct PagedGeneration {
  std::vector<std::int32_t> tokens;  // the prompt, then the generated tokens
  Index cached_prompt_tokens = 0;    // prompt tokens whose K/V came from the prefix cache
  Index computed_prompt_tokens = 0;  // prompt tokens run through the model: prompt - cached
};

// Step 7. Greedy generation of one sequence on the paged cache: a table over `pool`; the cached prefix
// (options.prefix_cache->attach) when there is a prefix cache; the rest of the prompt through
// paged_forward (in chunks of prefill_chunk when > 0); then one token per step: select_greedy (lesson 04)
// of the last logits, stop at eos or after max_new_tokens, else feed that token. With a prefix cache,
// every block that fills up is published. The table is released at the end — and on any exception,
// which is then rethrown: the pool's free count is what it was before the call (an OutOfBlocks in the
// middle of a generation leaks nothing). max_new_tokens == 0 returns the prompt without running the
// model. check_paged_generate runs first.
PagedGeneration paged_generate(const CausalLM& model, BlockPool& pool, std::span<const std::int32_t> prompt,
                               const PagedGenerateOptions& options = {});

// Given: the checks step 6 and step 7 run first, before anything changes. InvalidArgument naming the value
// and the limit for: a pool made for another model shape (layers, KV heads, head_dim); no tokens (an
// empty prompt); a token id outside [0, V); P + T (or prompt + max_new_tokens) beyond
// max_position_embeddings; max_new_tokens < 0; prefill_chunk < 0; an eos id outside [0, V); a prefix
// cache over another pool.
void check_paged_forward(const ModelConfig& config, const BlockTable& table, std::span<const std::int32_t> tokens);
void check_paged_generate(const ModelConfig& config, const BlockPool& pool, std::span<const std::int32_t> prompt,
                          const PagedGenerateOptions& options);

}  // namespace llm
