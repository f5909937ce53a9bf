// causal_lm.h — lesson 04's contract: a Llama-style causal language model with a KV cache, its loss and
// generate(). Shared by the stub (lessons/) and the reference (solutions/), so tests see one API.
// The API mirrors the course's PyTorch CausalLM; keyword arguments become designated initialisers:
//   auto out = model.forward(ids, {.labels = &labels});
//   IdTensor seq = model.generate(prompt, {.max_new_tokens = 20, .sampling = {.temperature = 0.0f}});
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
#include "sampler.h"        // lesson 04, exercise 2

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
  // kIgnoreIndex (-100) = ignore this position. nullptr = no loss.
  const IdTensor* labels = nullptr;
  // The cache to continue (needs use_cache): the new K/V are appended to it in place.
  std::shared_ptr<KVCache> past_key_values = nullptr;
  // Whether this call works with a KV cache — the same meaning as GenerateOptions::use_cache. true:
  // continue past_key_values, or start a new cache of max_position_embeddings positions when none is
  // given, and return it. false: no cache is read, written or returned (past_key_values must be null).
  bool use_cache = false;
};

struct CausalLMOutputWithPast {
  std::optional<float> loss;                 // cross_entropy(logits, labels) when labels were given
  Tensor logits;                             // (B, T, V)
  std::shared_ptr<KVCache> past_key_values;  // the cache when use_cache, else null
};

// ---------------------------------------------------------------------------------------------
// Exercise 1: the pieces of forward() worth testing on their own, and the loss
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

// The label value the loss skips (padding, prompt tokens not trained on), as in PyTorch.
inline constexpr std::int32_t kIgnoreIndex = -100;

// Step 5. The training loss on the course's pre-shifted labels: the mean over the positions whose
// label is not kIgnoreIndex of -log softmax(logits[b][t])[labels[b][t]], with the log-softmax computed
// stably (log-sum-exp after subtracting the row max: logits of +-1e4 give a finite loss).
// logits (B, T, V), labels (B, T). ShapeError when the shapes disagree; InvalidArgument for a label
// outside [0, V) that is not kIgnoreIndex, and when every label is kIgnoreIndex (no position to
// average over: a mean of nothing is undefined, and NaN would poison training silently).
float cross_entropy(const Tensor& logits, const IdTensor& labels);

// Given: the input checks forward() runs first (shapes, id ranges, lengths, cache compatibility,
// past_key_values without use_cache). Throws InvalidArgument / ShapeError naming the value and the limit.
void check_forward_inputs(const ModelConfig& config, const IdTensor& input_ids, const ForwardArgs& args);

// ---------------------------------------------------------------------------------------------
// Exercise 3: generate() options and the step inputs
// ---------------------------------------------------------------------------------------------

struct GenerateOptions {
  int max_new_tokens = 100;
  SamplingParams sampling;                   // temperature, top_k, top_p, repetition_penalty (sampler.h)
  std::optional<std::int32_t> pad_token_id;  // written after a row finished (defaults to eos)
  std::optional<std::int32_t> eos_token_id;  // a row finishes when it samples this
  std::uint64_t seed = 0;                    // one llm::Rng(seed) draws for all rows, row 0 first
  const IdTensor* attention_mask = nullptr;  // (B, prompt): 0 marks left padding
  // Whether generation works with a KV cache (as ForwardArgs::use_cache): true prefills the prompt into
  // a cache, then feeds one token per row per step; false recomputes the whole sequence every step
  // (the slow baseline). Both give the same tokens.
  bool use_cache = true;
  // Called after every step with the tokens just chosen, one per row (streaming output).
  std::function<void(std::span<const std::int32_t>)> on_step;
};

// What prepare_inputs_for_generation() hands to forward().
struct GenerationInputs {
  IdTensor input_ids;       // (B, T_new): only the tokens not yet in the cache
  IdTensor position_ids;    // (B, T_new)
  IdTensor attention_mask;  // (B, P + T_new)
};

// Given: the checks generate() runs once, first (sampling values, ids, total length).
void check_generate_inputs(const ModelConfig& config, const IdTensor& input_ids, const GenerateOptions& options);

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

class CausalLM {
 public:
  // Step 1. Builds every member from the config (validated first) and draws the weights
  // N(0, initializer_range^2) from Rng(seed) in a fixed order: embed_tokens, then per layer q, k, v, o,
  // gate, up, down, then lm_head when it is not tied. Norm weights start at one.
  explicit CausalLM(const ModelConfig& config, std::uint64_t seed = 0);

  // Given: stories260K and other llama2.c checkpoints (see common/include/llm/checkpoint.h). The
  // members are built straight from the checkpoint's tensors — moved, when the caller passes
  // std::move(checkpoint) — and no weight is drawn only to be overwritten.
  static CausalLM from_checkpoint(Checkpoint checkpoint);

  const ModelConfig& config() const { return config_; }

  Embedding embed_tokens;             // weight (V, C)
  std::vector<DecoderLayer> layers;   // L pre-norm blocks
  RMSNorm norm;                       // final norm, weight (C,)
  Linear lm_head;                     // weight (V, C); the same object as embed_tokens' when tied
  RotaryEmbedding rotary_emb;         // cos/sin table for max_position_embeddings positions

  // Step 4 (and step 5 for the loss).
  CausalLMOutputWithPast forward(const IdTensor& input_ids, const ForwardArgs& args = {}) const;

  // Step 12. The tokens of input_ids not yet in `past` (all of them when past is null or empty) with
  // their positions and the attention mask covering cached and new tokens. attention_mask: (B,
  // len(input_ids)) or nullptr for all ones. InvalidArgument when past already holds every column.
  GenerationInputs prepare_inputs_for_generation(const IdTensor& input_ids, const KVCache* past,
                                                 const IdTensor* attention_mask = nullptr) const;

  // Step 13. Autoregressive generation. Returns (B, prompt + generated): the prompt followed by the new
  // tokens; finished rows are padded with pad_token_id (or eos). Stops early once every row has finished.
  IdTensor generate(const IdTensor& input_ids, const GenerateOptions& options = {}) const;

 private:
  CausalLM() = default;  // from_checkpoint fills the members itself
  ModelConfig config_;
};

}  // namespace llm
