// causal_lm.h — lesson 04's contract: a Llama-style causal language model with a KV cache and
// generate(). Shared by the stub (lessons/) and the reference (solutions/), so tests see one API.
// The API mirrors the course's PyTorch CausalLM; keyword arguments become designated initialisers:
//   auto out = model.forward(ids, {.labels = &labels});
//   IdTensor seq = model.generate(prompt, {.max_new_tokens = 20, .temperature = 0.0f});
// Left out on purpose: training (no gradients), dropout, beam search, batched sampling on a GPU.
//
// Dimension legend (docs/dimensions.md): B batch, T new tokens, P cached positions, S = P + T,
// C hidden_size, V vocab_size, L layers, KV key/value heads, D head_dim.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "decoder_layer.h"  // lesson 03 (and, through it, lesson 02's attention and norms)
#include "embedding.h"      // lesson 01
#include "kv_cache.h"       // lesson 02
#include "llm/config.h"
#include "llm/linear.h"
#include "llm/tensor.h"
#include "norm.h"           // lesson 02
#include "rope.h"           // lesson 01

namespace llm {

struct Checkpoint;

// ---------------------------------------------------------------------------------------------
// forward() arguments and result
// ---------------------------------------------------------------------------------------------

struct ForwardArgs {
  // (B, P + T): 1 = real token, 0 = padding (left padding). nullptr = every token is real.
  const IdTensor* attention_mask = nullptr;
  // (B, T). nullptr = derived: P, P+1, ... without padding; cumsum(mask) - 1 with it.
  const IdTensor* position_ids = nullptr;
  // (B, T), already shifted by the data pipeline: labels[b][t] is the target of logits[b][t].
  // -100 = ignore this position. nullptr = no loss.
  const IdTensor* labels = nullptr;
  // The cache to continue from; the new K/V are appended to it in place.
  std::shared_ptr<KVCache> past_key_values = nullptr;
  // Return a cache (a new one when past_key_values is null) holding every position seen so far.
  bool use_cache = false;
};

struct CausalLMOutputWithPast {
  std::optional<float> loss;                // mean cross-entropy over labels != -100
  Tensor logits;                            // (B, T, V)
  std::shared_ptr<KVCache> past_key_values;  // null unless use_cache or a past was given
};

// ---------------------------------------------------------------------------------------------
// generate() options: the course's keyword arguments, with its defaults
// ---------------------------------------------------------------------------------------------

struct GenerateOptions {
  int max_new_tokens = 100;
  float temperature = 1.0f;         // <= 0 means greedy
  float top_p = 1.0f;               // in (0, 1]; 1 disables
  int top_k = 50;                   // <= 0 disables; >= V keeps all
  float repetition_penalty = 1.0f;  // > 0; 1 disables
  std::optional<std::int32_t> pad_token_id;  // written after a row finished (defaults to eos)
  std::optional<std::int32_t> eos_token_id;  // a row finishes when it samples this
  std::uint64_t seed = 0;                    // one llm::Rng(seed) draws for all rows, row 0 first
  const IdTensor* attention_mask = nullptr;  // (B, prompt): 0 marks left padding
  bool use_cache = true;  // false: recompute the whole sequence every step (the slow baseline)
  // Called after every step with the tokens just chosen, one per row (streaming output).
  std::function<void(std::span<const std::int32_t>)> on_step;
};

// What prepare_inputs_for_generation() hands to forward() on each step.
struct GenerationInputs {
  IdTensor input_ids;       // (B, T_new): only the tokens not yet in the cache
  IdTensor position_ids;    // (B, T_new)
  IdTensor attention_mask;  // (B, P + T_new)
};

// ---------------------------------------------------------------------------------------------
// The two pieces of forward() that are worth testing on their own
// ---------------------------------------------------------------------------------------------

// Step 2. Positions of the T new tokens when the caller gives none.
// Without a mask: P, P+1, ..., P+T-1 (they continue from the cache length).
// With a mask (B, P+T) of 1 = token / 0 = left padding: cumsum(mask) - 1, so every row's first real
// token is at position 0; padding positions (which attend to nothing) are clamped to 0.
IdTensor default_position_ids(const IdTensor* attention_mask, Index batch, Index past, Index new_tokens);

// Step 3. The additive attention mask (B, T, P+T): 0 where new token t may look at key j, -inf where
// not. Causal and aligned bottom-right with the cache: token t sits at absolute index P + t and sees
// keys j <= P + t, minus the keys the padding mask marks 0. attention_mask: (B, P+T) or nullptr.
Tensor build_causal_mask(const IdTensor* attention_mask, Index batch, Index past, Index new_tokens);

// Given: the input checks forward() runs first (shapes, id ranges, lengths, cache compatibility).
// Throws InvalidArgument / ShapeError naming the value and the limit.
void check_forward_inputs(const ModelConfig& config, const IdTensor& input_ids, const ForwardArgs& args);
// Given: the checks generate() runs first (sampling values, ids, total length).
void check_generate_inputs(const ModelConfig& config, const IdTensor& input_ids, const GenerateOptions& options);

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

class CausalLM {
 public:
  // Builds every member from the config (validated first) and draws the weights N(0, 0.02^2) from
  // Rng(seed) in a fixed order: embed_tokens, then per layer q, k, v, o, gate, up, down, then lm_head
  // when it is not tied. Norm weights start at one.
  explicit CausalLM(const ModelConfig& config, std::uint64_t seed = 0);

  // stories260K and other llama2.c checkpoints (see common/include/llm/checkpoint.h).
  static CausalLM from_checkpoint(const Checkpoint& checkpoint);

  const ModelConfig& config() const { return config_; }

  Embedding embed_tokens;             // weight (V, C)
  std::vector<DecoderLayer> layers;   // L pre-norm blocks
  RMSNorm norm;                       // final norm, weight (C,)
  Linear lm_head;                     // weight (V, C); the same object as embed_tokens' when tied
  RotaryEmbedding rotary_emb;         // cos/sin table for max_position_embeddings positions

  CausalLMOutputWithPast forward(const IdTensor& input_ids, const ForwardArgs& args = {}) const;

  // The tokens of input_ids not yet in `past` (all of them when past is null or empty) with their
  // positions and the attention mask extended to cover them.  attention_mask: (B, len(input_ids)) or
  // nullptr for all ones.
  GenerationInputs prepare_inputs_for_generation(const IdTensor& input_ids, const KVCache* past,
                                                 const IdTensor* attention_mask = nullptr) const;

  // Autoregressive generation. Returns (B, prompt + generated): the prompt followed by the new tokens;
  // finished rows are padded with pad_token_id (or eos). Stops early once every row has finished.
  IdTensor generate(const IdTensor& input_ids, const GenerateOptions& options = {}) const;

 private:
  ModelConfig config_;
};

}  // namespace llm
