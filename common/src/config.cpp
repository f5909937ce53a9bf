// config.cpp — ModelConfig validation and presets.
#include "llm/config.h"

#include <cmath>
#include <sstream>

#include "llm/errors.h"

namespace llm {

// A guard against absurd allocations, deliberately coarse: as if K/V had every head and the LM head
// were untied. The exact count, broken down by component, is lesson 05's count_parameters().
static std::int64_t weights_upper_bound(const ModelConfig& c) {
  const std::int64_t V = c.vocab_size, C = c.hidden_size, F = c.intermediate_size, L = c.num_hidden_layers;
  return 2 * V * C + L * (4 * C * C + 3 * C * F + 2 * C) + C;
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kSiLU: return "silu";
    case Activation::kGELU: return "gelu";
  }
  return "unknown";
}

void ModelConfig::validate() const {
  check_positive(vocab_size, "vocab_size");
  check_positive(hidden_size, "hidden_size");
  check_positive(intermediate_size, "intermediate_size");
  check_positive(num_hidden_layers, "num_hidden_layers");
  check_positive(num_attention_heads, "num_attention_heads");
  check_positive(num_key_value_heads, "num_key_value_heads");
  check_positive(max_position_embeddings, "max_position_embeddings");
  // Upper bounds: a CPU reference model, so sizes past these are typos, not models. Refused here with
  // the field's name rather than as a std::bad_alloc deep inside a constructor.
  check_range(vocab_size, 1, kMaxVocabSize, "vocab_size");
  check_range(hidden_size, 1, kMaxHiddenSize, "hidden_size");
  check_range(intermediate_size, 1, kMaxHiddenSize, "intermediate_size");
  check_range(num_hidden_layers, 1, kMaxLayers, "num_hidden_layers");
  check_range(max_position_embeddings, 1, kMaxPositions, "max_position_embeddings");
  if (const std::int64_t n = weights_upper_bound(*this); n > kMaxParameters)
    fail<InvalidArgument>("the config describes up to ", n, " weights, more than the ", kMaxParameters,
                          " (8 GiB of float32) this CPU reference supports");
  if (hidden_size % num_attention_heads != 0)
    fail<InvalidArgument>("hidden_size = ", hidden_size, " must be divisible by num_attention_heads = ",
                          num_attention_heads);
  if (num_attention_heads % num_key_value_heads != 0)
    fail<InvalidArgument>("num_attention_heads = ", num_attention_heads,
                          " must be divisible by num_key_value_heads = ", num_key_value_heads);
  if (hidden_act != Activation::kSiLU && hidden_act != Activation::kGELU)
    fail<InvalidArgument>("hidden_act = ", static_cast<int>(hidden_act), " is not an Activation (silu or gelu)");
  if (head_dim() % 2 != 0)
    fail<InvalidArgument>("head_dim = hidden_size / num_attention_heads = ", head_dim(),
                          " must be even: RoPE rotates pairs of dimensions");
  if (!(rope_theta > 0.0f) || !std::isfinite(rope_theta))
    fail<InvalidArgument>("rope_theta = ", rope_theta, " must be finite and > 0");
  if (!(rms_norm_eps > 0.0f) || !std::isfinite(rms_norm_eps))
    fail<InvalidArgument>("rms_norm_eps = ", rms_norm_eps, " must be finite and > 0");
  if (!(initializer_range >= 0.0f) || !std::isfinite(initializer_range))
    fail<InvalidArgument>("initializer_range = ", initializer_range, " must be finite and >= 0");
  check_index(bos_token_id, vocab_size, "bos_token_id");
  check_index(eos_token_id, vocab_size, "eos_token_id");
}

std::string ModelConfig::summary() const {
  std::ostringstream out;
  out << "vocab " << vocab_size << ", hidden " << hidden_size << ", intermediate " << intermediate_size
      << ", layers " << num_hidden_layers << ", heads " << num_attention_heads << ", kv_heads "
      << num_key_value_heads << ", head_dim " << head_dim() << ", max_positions "
      << max_position_embeddings;
  return out.str();
}

ModelConfig ModelConfig::lesson() { return ModelConfig{}; }

ModelConfig ModelConfig::tiny() {
  ModelConfig c;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 64;
  return c;
}

ModelConfig ModelConfig::stories260k() {
  ModelConfig c;
  c.vocab_size = 512;
  c.hidden_size = 64;
  c.intermediate_size = 172;
  c.num_hidden_layers = 5;
  c.num_attention_heads = 8;
  c.num_key_value_heads = 4;
  c.max_position_embeddings = 512;
  c.rope_theta = 10000.0f;
  c.rms_norm_eps = 1e-5f;
  c.tie_word_embeddings = true;
  return c;
}

ModelConfig ModelConfig::qwen2_5_0_5b() {
  ModelConfig c;
  c.vocab_size = 151936;
  c.hidden_size = 896;
  c.intermediate_size = 4864;
  c.num_hidden_layers = 24;
  c.num_attention_heads = 14;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 32768;
  c.rope_theta = 1000000.0f;
  return c;
}

}  // namespace llm
