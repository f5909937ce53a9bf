// model_stats.h — lesson 05's contract, part 1: what a ModelConfig costs before anything runs — its
// parameters (per component, and as a llama2.c file), the FLOPs of one forward call, and the memory
// of weights, KV cache and activations. Arithmetic on the config only: nothing is allocated, so the
// numbers of Qwen2.5-0.5B come out as easily as those of the tiny config.
// Shared by the stub (lessons/) and the reference (solutions/). Not here: biases (Llama has none;
// Qwen2.5's q/k/v biases are left out), training (gradients, optimiser state), formats below one byte
// per value, mixture-of-experts, sliding-window attention.
//
// Dimension legend (docs/dimensions.md): B batch, T new tokens, P cached positions, S = P + T,
// C hidden_size, F intermediate_size, V vocab_size, L layers, H query heads, KV key/value heads,
// D head_dim (C / H).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "llm/config.h"
#include "llm/limits.h"
#include "llm/tensor.h"

namespace llm {

// ---------------------------------------------------------------------------------------------
// Step 1. Parameters: where they are, and how many bytes a llama2.c file of them takes
// ---------------------------------------------------------------------------------------------

// One decoder layer's weights, in elements (every layer of a config has the same). Matrices are
// stored (out_features, in_features), like lessons 02 and 03 build them.
struct LayerParameters {
  std::int64_t q_proj = 0;                    // (H*D, C)
  std::int64_t k_proj = 0;                    // (KV*D, C)
  std::int64_t v_proj = 0;                    // (KV*D, C)
  std::int64_t o_proj = 0;                    // (C, H*D)
  std::int64_t gate_proj = 0;                 // (F, C)
  std::int64_t up_proj = 0;                   // (F, C)
  std::int64_t down_proj = 0;                 // (C, F)
  std::int64_t input_layernorm = 0;           // (C,)
  std::int64_t post_attention_layernorm = 0;  // (C,)

  std::int64_t attention() const { return q_proj + k_proj + v_proj + o_proj; }
  std::int64_t mlp() const { return gate_proj + up_proj + down_proj; }
  std::int64_t norms() const { return input_layernorm + post_attention_layernorm; }
  std::int64_t total() const { return attention() + mlp() + norms(); }
};

// The whole model, component by component, in elements.
struct ParameterCount {
  std::int64_t embedding = 0;   // embed_tokens (V, C)
  LayerParameters layer;        // one decoder layer
  std::int64_t num_layers = 0;  // L
  std::int64_t final_norm = 0;  // (C,)
  // (V, C) when the head has its own matrix; 0 when tie_word_embeddings: the head then reuses the
  // embedding matrix, which is counted once, under `embedding`.
  std::int64_t lm_head = 0;

  std::int64_t layers() const { return num_layers * layer.total(); }
  std::int64_t total() const { return embedding + layers() + final_norm + lm_head; }
};

// Validates the config (InvalidArgument), then fills every field from its sizes. No biases: the
// count equals the element count of the weights llm::CausalLM allocates, a tied matrix counted once.
ParameterCount count_parameters(const ModelConfig& config);

// The exact size of this config saved as a llama2.c version-0 checkpoint (stories260K.bin's format,
// see ../shared/models/stories260K/SOURCE.md and common/src/checkpoint.cpp):
//   7 int32 header fields (28 bytes)
//   + 4 bytes per parameter (float32; an untied head's matrix follows as wcls, the header's vocab
//     size then negative)
//   + 4 bytes per entry of the two legacy RoPE tables freq_cis_real and freq_cis_imag, each
//     max_position_embeddings x D/2 floats, stored although no loader needs them.
// Validates the config first.
std::int64_t llama2c_checkpoint_bytes(const ModelConfig& config);

// ---------------------------------------------------------------------------------------------
// The work of one forward call
// ---------------------------------------------------------------------------------------------

// B rows, each feeding T new tokens after P positions already in its KV cache; the attention of new
// token t (0-based) sees P + t + 1 keys, the last of them S = P + T.
struct Workload {
  Index batch = 1;       // B >= 1
  Index past = 0;        // P >= 0
  Index new_tokens = 1;  // T >= 1
};

// A prompt of `tokens` tokens from an empty cache: P = 0, T = tokens.
inline Workload prefill(Index tokens, Index batch = 1) { return {batch, 0, tokens}; }
// One generated token after `past` cached positions: T = 1, its attention sees S = past + 1 keys.
inline Workload decode_step(Index past, Index batch = 1) { return {batch, past, 1}; }

// ---------------------------------------------------------------------------------------------
// Step 2. FLOPs of a forward call
// ---------------------------------------------------------------------------------------------

// The convention, exact for this course's model (a multiply-add is 2 FLOPs):
//   matmul    = 2 x (matmul weights) x B x T, where the matmul weights are
//               L x (q, k, v, o, gate, up, down) + V x C for the LM head. The head counts even when
//               tied: the (V, C) multiply happens either way. The embedding lookup counts 0: it is a
//               gather (copying T rows), not a product.
//   attention = 2 x 2 x H x D per visible key, per new token, per layer, per row: the scores q . k
//               (H x D multiply-adds per key) and the weighted sum of the values (the same again).
//               New token t sees P + t + 1 keys, so a call sees T x P + T(T + 1)/2 of them:
//               attention = 4 x L x H x D x B x (T x P + T(T + 1)/2).
// Not counted: norms, RoPE, softmax, SiLU, residual adds — O(C), O(F) or O(H x S) per token, small
// next to the matrices; also nothing of a backward pass.
struct FlopCount {
  std::int64_t matmul = 0;
  std::int64_t attention = 0;
  std::int64_t total() const { return matmul + attention; }
};

// Validates the config and the workload (InvalidArgument); 64-bit, InvalidArgument on overflow.
FlopCount forward_flops(const ModelConfig& config, const Workload& work);

// ---------------------------------------------------------------------------------------------
// Step 3. Memory: weights, KV cache, activations
// ---------------------------------------------------------------------------------------------

// The activation estimate, in values: the largest set of tensors live at once inside one layer of
// an inference forward call, plus the logits.
//   attention: the residual stream (B, T, C), the queries (B, T, H*D), the scores (B, H, T, S) and
//              the heads' output before o_proj (B, T, H*D)
//              = B x T x (C + 2 x H x D) + B x H x T x S
//              (the new keys and values are written into the KV cache and counted there)
//   mlp:       the residual stream (B, T, C), gate and up (B, T, F) each (act(gate) * up overwrites
//              gate) = B x T x (C + 2 x F)
//   logits:    (B, T, V)
// peak = max(attention, mlp) + logits: an upper bound (the logits only appear after the last layer
// freed its tensors), simple to state. Left out: norm outputs, the (B, T, S) mask, temporaries of a
// particular implementation, anything a backward pass would keep.
struct ActivationValues {
  std::int64_t attention = 0;
  std::int64_t mlp = 0;
  std::int64_t logits = 0;
  std::int64_t peak() const { return std::max(attention, mlp) + logits; }
};

// Bytes, with every value stored in bytes_per_value bytes (fp32 4, fp16/bf16 2, int8 1).
struct MemoryEstimate {
  std::int64_t weights = 0;            // parameters x bytes_per_value
  std::int64_t kv_cache = 0;           // kv_cache_bytes(config, S = P + T, B, bytes_per_value) (lesson 02)
  ActivationValues activation_values;  // in values, not bytes
  std::int64_t activations = 0;        // activation_values.peak() x bytes_per_value
  std::int64_t total() const { return weights + kv_cache + activations; }
};

// Validates config, workload and bytes_per_value (InvalidArgument); 64-bit, InvalidArgument on overflow.
MemoryEstimate memory_estimate(const ModelConfig& config, const Workload& work, std::int64_t bytes_per_value);

// ---------------------------------------------------------------------------------------------
// Given (given.cpp): the input checks and overflow-checked arithmetic the steps use
// ---------------------------------------------------------------------------------------------

// InvalidArgument naming the field and its value unless batch >= 1, past >= 0 and new_tokens >= 1.
void check_workload(const Workload& work);
// InvalidArgument unless 1 <= bytes_per_value <= 8.
void check_bytes_per_value(std::int64_t bytes_per_value);
// checked_mul(a, b, what) and checked_add(a, b, what) come from llm/limits.h: a * b and a + b for
// a, b >= 0, or InvalidArgument naming `what` when the result does not fit in 64 bits (a long enough
// context overflows any counter; it must not wrap around silently).

}  // namespace llm
