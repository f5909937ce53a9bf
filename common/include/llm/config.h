// config.h — ModelConfig: the hyperparameters of a Llama-style model, with the course's field names.
// Presets for the course's lesson config, a tiny test config and the real stories260K model.
#pragma once

#include <cstdint>
#include <string>

#include "llm/limits.h"  // the sizes validate() accepts at most

namespace llm {

// The MLP's gate activation: SiLU makes the feed-forward block SwiGLU (Llama, Qwen), GELU makes it
// GeGLU (Gemma). Hugging Face's config.json calls this field hidden_act ("silu", "gelu").
enum class Activation { kSiLU, kGELU };
const char* activation_name(Activation a);  // "silu", "gelu"

struct ModelConfig {
  int vocab_size = 1000;               // V
  int hidden_size = 128;               // C
  int intermediate_size = 256;         // F (SwiGLU inner width)
  int num_hidden_layers = 2;           // L
  int num_attention_heads = 4;         // H (query heads)
  int num_key_value_heads = 2;         // KV (key/value heads; H % KV == 0)
  int max_position_embeddings = 256;   // longest sequence, prompt plus generated
  float rope_theta = 10000.0f;         // RoPE base
  float rms_norm_eps = 1e-6f;          // RMSNorm epsilon
  Activation hidden_act = Activation::kSiLU;  // MLP gate: silu (SwiGLU) or gelu (GeGLU)
  bool tie_word_embeddings = true;     // lm_head shares the token-embedding matrix
  float initializer_range = 0.02f;     // std of the N(0, std) weight initialisation
  int bos_token_id = 1;
  int eos_token_id = 2;

  int head_dim() const { return hidden_size / num_attention_heads; }                  // D
  int num_key_value_groups() const { return num_attention_heads / num_key_value_heads; }  // H / KV
  // Throws InvalidArgument naming the field, its value and the rule it breaks.
  void validate() const;
  std::string summary() const;  // one line, for logs and the CLI

  // The course's lesson config: vocab 1000, hidden 128, 2 layers, 4 heads, 2 KV heads, 256 positions.
  static ModelConfig lesson();
  // Small enough for exhaustive tests: vocab 64, hidden 32, 2 layers, 4 heads, 2 KV heads.
  static ModelConfig tiny();
  // The real stories260K checkpoint (llama2.c): dim 64, hidden 172, 5 layers, 8 heads, 4 KV heads.
  static ModelConfig stories260k();
  // The course's large config (it calls it "Qwen3-0.5B"; the numbers are Qwen2.5-0.5B's config.json):
  // vocab 151936, hidden 896, intermediate 4864, 24 layers, 14 heads, 2 KV heads, 32768 positions.
  // For arithmetic (lesson 05's parameter counts, KV-cache bytes); too large to instantiate in tests.
  static ModelConfig qwen2_5_0_5b();
};

}  // namespace llm
