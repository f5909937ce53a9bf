// causal_lm.cpp — YOUR lesson 04 work, exercises 1 and 3: CausalLM's constructor, the forward pass with
// a KV cache, the loss, and generate(). Each TODO is a step of README.md; each throws until you write it.
// The reference lives in solutions/lesson04_kv_cache_causallm/causal_lm.cpp — try before you look.
//
// Legend: B batch, T new tokens, P cached positions, S = P + T, C hidden, V vocab, L layers.
#include "causal_lm.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "llm/errors.h"
#include "llm/ops.h"
#include "sampler.h"

namespace llm {

// Exercise 1 — the model

CausalLM::CausalLM(const ModelConfig& config, std::uint64_t seed) : config_(config) {
  // TODO(step 1): validate the config, then build the members with an Rng(seed):
  //   embed_tokens (Embedding::random), num_hidden_layers DecoderLayer blocks, the final RMSNorm,
  //   lm_head (tied: share embed_tokens.weight; else Linear::random), and rotary_emb
  //   (RotaryEmbedding with RopeConvention::kAdjacentPairs). Draw in the order causal_lm.h states.
  (void)seed;
  throw NotImplemented("lesson04 step 1: build the CausalLM members from the config");
}

IdTensor default_position_ids(const IdTensor* attention_mask, Index batch, Index past, Index new_tokens) {
  // TODO(step 2): positions continue from the cache length (past + t); with a padding mask they are
  //   cumsum(mask) - 1 over the whole (B, P + T) mask, clamped at 0, keeping the last T columns.
  (void)attention_mask, (void)batch, (void)past, (void)new_tokens;
  throw NotImplemented("lesson04 step 2: default position ids (continue from the cache length)");
}

Tensor build_causal_mask(const IdTensor* attention_mask, Index batch, Index past, Index new_tokens) {
  // TODO(step 3): a (B, T, P + T) tensor of 0 (may attend) and -infinity (may not). New token t is at
  //   absolute index past + t and sees keys j <= past + t whose attention_mask entry is 1.
  (void)attention_mask, (void)batch, (void)past, (void)new_tokens;
  throw NotImplemented("lesson04 step 3: build the causal + padding mask, aligned with the cache");
}

CausalLMOutputWithPast CausalLM::forward(const IdTensor& input_ids, const ForwardArgs& args) const {
  // TODO(step 4): check_forward_inputs(); pick the cache (args.past_key_values, or a new KVCache of
  //   max_position_embeddings positions when use_cache and none was given); P = its length, read
  //   before the layers run; positions (given, or step 2) and mask (step 3); embed -> each layer with
  //   its LayerKVCache -> final norm -> lm_head. Return the logits and the cache.
  //   Step 5 adds one line here: with labels, out.loss = cross_entropy(out.logits, *args.labels).
  (void)input_ids, (void)args;
  throw NotImplemented("lesson04 step 4: CausalLM forward (embeddings, mask, layers, norm, lm_head)");
}

float cross_entropy(const Tensor& logits, const IdTensor& labels) {
  // TODO(step 5): the mean over positions whose label is not kIgnoreIndex of
  //   -log softmax(logits[b][t])[labels[b][t]]. No shift: labels are already the next tokens.
  //   Compute it stably: log(sum_j exp(x_j - m)) + (m - x_label) with m the row max.
  //   ShapeError unless logits (B, T, V) and labels (B, T); InvalidArgument for a label outside
  //   [0, V) that is not kIgnoreIndex, and when every label is kIgnoreIndex (nothing to average).
  (void)logits, (void)labels;
  throw NotImplemented("lesson04 step 5: the loss (mean cross-entropy over labels that are not -100)");
}

// Exercise 3 — generation (uses exercise 2's sample_next)

GenerationInputs CausalLM::prepare_inputs_for_generation(const IdTensor& input_ids, const KVCache* past,
                                                         const IdTensor* attention_mask) const {
  // TODO(step 12): keep only the columns the cache does not hold yet (from past->seq_length() on),
  //   their positions (step 2 with the full mask), and the mask (all ones when none is given).
  (void)input_ids, (void)past, (void)attention_mask;
  throw NotImplemented("lesson04 step 12: prepare_inputs_for_generation (only the uncached tokens)");
}

IdTensor CausalLM::generate(const IdTensor& input_ids, const GenerateOptions& options) const {
  // TODO(step 13a): check_generate_inputs() once; max_new_tokens == 0 returns the prompt. Set up the
  //   state of the call: one Rng(options.seed), each row's tokens, its next position (its count of real
  //   prompt tokens), a finished flag, its penalty history (distinct real prompt tokens).
  (void)input_ids, (void)options;
  throw NotImplemented("lesson04 step 13a: generate — check the options once and set up the state");
  // TODO(step 13b): prefill: one forward of the whole prompt (with its mask) into a KVCache of exactly
  //   prompt + max_new_tokens positions; each row's first token is sample_next on a copy of its last
  //   logits, with its history.
  // TODO(step 13c): the decode loop: feed the chosen tokens back as (B, 1) ids at each row's next
  //   position (the mask, when given, one column of ones longer); pick the next tokens from the new
  //   (B, 1, V) logits, rows in order 0, 1, ..., and add new tokens to the histories.
  // TODO(step 13d): a row that samples eos keeps it and is finished: later it gets pad_token_id (eos
  //   when none) without sampling. Call options.on_step after each step; stop when every row has
  //   finished or after max_new_tokens steps.
  // TODO(step 13e): use_cache == false: no cache; every step forwards the whole sequence instead.
}

}  // namespace llm
