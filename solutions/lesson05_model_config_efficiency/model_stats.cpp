// model_stats.cpp — reference of lesson 05, exercise 1: parameters, FLOPs and memory of a
// config, by arithmetic alone. Every product that can grow with a length or a batch goes through
// checked_mul / checked_add, so an absurd workload is an InvalidArgument instead of a wrapped number.
//
// Legend: B batch, T new tokens, P cached positions, S = P + T, C hidden, F intermediate, V vocab,
// L layers, H query heads, KV key/value heads, D head_dim.
#include "model_stats.h"

#include <limits>

#include "kv_cache.h"  // lesson 02: kv_cache_bytes
#include "llm/errors.h"

namespace llm {

// ---------------------------------------------------------------------------------------------
// Step 1: parameters
// ---------------------------------------------------------------------------------------------

ParameterCount count_parameters(const ModelConfig& config) {
  config.validate();
  // 64-bit from the start: V x C alone is 136 million for Qwen2.5-0.5B, and sums of such products
  // must never be formed in int.
  const std::int64_t V = config.vocab_size, C = config.hidden_size, F = config.intermediate_size;
  const std::int64_t H = config.num_attention_heads, KV = config.num_key_value_heads, D = config.head_dim();
  ParameterCount p;
  p.embedding = V * C;
  p.layer.q_proj = H * D * C;
  p.layer.k_proj = KV * D * C;
  p.layer.v_proj = KV * D * C;
  p.layer.o_proj = C * H * D;
  p.layer.gate_proj = F * C;
  p.layer.up_proj = F * C;
  p.layer.down_proj = C * F;
  p.layer.input_layernorm = C;
  p.layer.post_attention_layernorm = C;
  p.num_layers = config.num_hidden_layers;
  p.final_norm = C;
  p.lm_head = config.tie_word_embeddings ? 0 : V * C;  // tied: the embedding matrix, already counted
  return p;
}

std::int64_t llama2c_checkpoint_bytes(const ModelConfig& config) {
  const ParameterCount p = count_parameters(config);  // validates
  constexpr std::int64_t kHeaderBytes =
      7 * 4;  // dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab, seq_len
  // freq_cis_real and freq_cis_imag: max_position_embeddings x D/2 floats each.
  const std::int64_t rope_tables =
      2 * checked_mul(config.max_position_embeddings, config.head_dim() / 2, "llama2.c RoPE tables");
  const std::int64_t floats = checked_add(p.total(), rope_tables, "llama2.c checkpoint floats");
  return checked_add(kHeaderBytes, checked_mul(floats, 4, "llama2.c checkpoint bytes"),
                     "llama2.c checkpoint bytes");
}

// ---------------------------------------------------------------------------------------------
// Step 2: FLOPs
// ---------------------------------------------------------------------------------------------

FlopCount forward_flops(const ModelConfig& config, const Workload& work) {
  const ParameterCount p = count_parameters(config);  // validates the config
  check_workload(work);
  const std::int64_t B = work.batch, P = work.past, T = work.new_tokens;
  const std::int64_t V = config.vocab_size, C = config.hidden_size;
  const std::int64_t L = config.num_hidden_layers, H = config.num_attention_heads, D = config.head_dim();

  // Every weight a token is multiplied with: the projections of each layer and the (V, C) head, tied
  // or not. Not the embedding: looking a row up is a copy.
  const std::int64_t matmul_weights = L * (p.layer.attention() + p.layer.mlp()) + V * C;
  const std::int64_t tokens = checked_mul(B, T, "forward_flops: B x T tokens");
  FlopCount f;
  f.matmul = checked_mul(2 * matmul_weights, tokens, "forward_flops: matmul FLOPs");

  // Keys seen by the T new tokens of one row: T x P cached ones plus 1 + 2 + ... + T new ones.
  const std::int64_t new_keys = checked_mul(T, T + 1, "forward_flops: T x (T + 1)") / 2;
  const std::int64_t keys =
      checked_add(checked_mul(T, P, "forward_flops: T x P"), new_keys, "forward_flops: keys");
  // Per key, per new token, per layer: H x D multiply-adds for q . k and as many for the sum of v.
  const std::int64_t per_key = 2 * 2 * L * H * D;
  f.attention = checked_mul(checked_mul(per_key, B, "forward_flops: attention"), keys,
                            "forward_flops: attention FLOPs");
  checked_add(f.matmul, f.attention, "forward_flops: total FLOPs");  // total() must not overflow either
  return f;
}

// ---------------------------------------------------------------------------------------------
// Step 3: memory
// ---------------------------------------------------------------------------------------------

MemoryEstimate memory_estimate(const ModelConfig& config, const Workload& work,
                               std::int64_t bytes_per_value) {
  const ParameterCount p = count_parameters(config);  // validates the config
  check_workload(work);
  check_bytes_per_value(bytes_per_value);
  const std::int64_t B = work.batch, T = work.new_tokens;
  const std::int64_t S = checked_add(work.past, T, "memory_estimate: S = P + T");
  const std::int64_t C = config.hidden_size, F = config.intermediate_size, V = config.vocab_size;
  const std::int64_t H = config.num_attention_heads, D = config.head_dim();

  MemoryEstimate m;
  m.weights = checked_mul(p.total(), bytes_per_value, "memory_estimate: weight bytes");

  // Lesson 02's formula, not a copy of it. It counts in size_t and refuses to wrap; a result above
  // INT64_MAX would still not fit here.
  const std::size_t kv = kv_cache_bytes(config, S, B, static_cast<std::size_t>(bytes_per_value));
  if (kv > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()))
    fail<InvalidArgument>("memory_estimate: KV cache of ", S, " positions x batch ", B, " = ", kv,
                          " bytes does not fit in 64 bits");
  m.kv_cache = static_cast<std::int64_t>(kv);

  const std::int64_t tokens = checked_mul(B, T, "memory_estimate: B x T tokens");
  // Attention: residual (C), queries (H*D), heads' output (H*D) per token, plus the (B, H, T, S) scores.
  const std::int64_t scores =
      checked_mul(checked_mul(tokens, H, "memory_estimate: scores"), S, "memory_estimate: scores");
  m.activation_values.attention =
      checked_add(checked_mul(tokens, C + 2 * H * D, "memory_estimate: attention activations"), scores,
                  "memory_estimate: attention activations");
  // MLP: residual (C), gate and up (F each).
  m.activation_values.mlp = checked_mul(tokens, C + 2 * F, "memory_estimate: MLP activations");
  // Logits (B, T, V).
  m.activation_values.logits = checked_mul(tokens, V, "memory_estimate: logits");

  const std::int64_t peak = checked_add(std::max(m.activation_values.attention, m.activation_values.mlp),
                                        m.activation_values.logits, "memory_estimate: activation peak");
  m.activations = checked_mul(peak, bytes_per_value, "memory_estimate: activation bytes");
  checked_add(checked_add(m.weights, m.kv_cache, "memory_estimate: total"), m.activations,
              "memory_estimate: total");
  return m;
}

}  // namespace llm
