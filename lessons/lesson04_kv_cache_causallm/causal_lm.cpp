// causal_lm.cpp — YOUR lesson 04 work, exercises 1 and 2: CausalLM's constructor, forward pass with a
// KV cache, and generate(). Each TODO is a step of README.md; each throws until you write it.
// The reference lives in solutions/lesson04_kv_cache_causallm/causal_lm.cpp — try before you look.
//
// Legend: B batch, T new tokens, P cached positions, S = P + T, C hidden, V vocab, L layers.
#include "causal_lm.h"

#include <algorithm>
#include <limits>

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
  //   max_position_embeddings positions when use_cache); positions (step 2) and mask (step 3);
  //   embed -> each layer with its LayerKVCache -> final norm -> lm_head. Return logits and the cache.
  // TODO(step 5): with labels, loss = cross_entropy(logits, labels) (labels are already shifted).
  (void)input_ids, (void)args;
  throw NotImplemented("lesson04 step 4: CausalLM forward (embeddings, mask, layers, norm, lm_head)");
}

// Exercise 2 — generation

GenerationInputs CausalLM::prepare_inputs_for_generation(const IdTensor& input_ids, const KVCache* past,
                                                         const IdTensor* attention_mask) const {
  // TODO(step 6): keep only the columns the cache does not hold yet (from past->seq_length() on),
  //   their positions (step 2 with the full mask), and the mask (all ones when none is given).
  (void)input_ids, (void)past, (void)attention_mask;
  throw NotImplemented("lesson04 step 6: prepare_inputs_for_generation (only the uncached tokens)");
}

IdTensor CausalLM::generate(const IdTensor& input_ids, const GenerateOptions& options) const {
  // TODO(step 7): check_generate_inputs(); one KVCache of exactly prompt + max_new_tokens positions;
  //   prefill the prompt, then one token per step with sample_next() on each row's last logits
  //   (history = that row's non-padding tokens); a row that samples eos is finished and gets
  //   pad_token_id (or eos) from then on; stop when all rows finished. use_cache == false recomputes
  //   the whole sequence each step. Call options.on_step after each step.
  (void)input_ids, (void)options;
  throw NotImplemented("lesson04 step 7: generate (prefill, decode with the cache, EOS)");
}

}  // namespace llm
