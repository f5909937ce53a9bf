// model_stats.cpp — YOUR lesson 05 work, exercise 1: the parameters, FLOPs and memory of a config, by
// arithmetic on its sizes. Each TODO is a step of README.md; each throws until you write it.
// The reference lives in solutions/lesson05_model_config_efficiency/model_stats.cpp — try before you look.
//
// Legend: B batch, T new tokens, P cached positions, S = P + T, C hidden, F intermediate, V vocab,
// L layers, H query heads, KV key/value heads, D head_dim.
#include "model_stats.h"

#include <limits>

#include "kv_cache.h"  // lesson 02: kv_cache_bytes
#include "llm/errors.h"

namespace llm {

// Exercise 1 — counting

ParameterCount count_parameters(const ModelConfig& config) {
  // TODO(step 1): config.validate(), then every field of ParameterCount from V, C, F, H, KV, D, L in
  //   64-bit (std::int64_t before multiplying). A tied head counts 0: its matrix is the embedding's.
  (void)config;
  throw NotImplemented("lesson05 step 1: count the parameters of each component");
}

std::int64_t llama2c_checkpoint_bytes(const ModelConfig& config) {
  // TODO(step 1): 28 header bytes + 4 bytes per parameter + 4 bytes per entry of the two legacy RoPE
  //   tables (max_position_embeddings x D/2 floats each). Use checked_mul / checked_add.
  (void)config;
  throw NotImplemented("lesson05 step 1: the size of a llama2.c checkpoint file");
}

FlopCount forward_flops(const ModelConfig& config, const Workload& work) {
  // TODO(step 2): validate (count_parameters does the config; check_workload the workload), then
  //   matmul    = 2 x (L x the 7 projections + V x C for the head, tied or not) x B x T
  //   attention = 4 x L x H x D x B x (T x P + T(T + 1)/2)
  //   with checked_mul / checked_add for every product that grows with B, P or T.
  (void)config, (void)work;
  throw NotImplemented("lesson05 step 2: forward FLOPs (matmuls and attention)");
}

MemoryEstimate memory_estimate(const ModelConfig& config, const Workload& work,
                               std::int64_t bytes_per_value) {
  // TODO(step 3): validate config, workload and bytes_per_value (check_bytes_per_value); then
  //   weights     = parameters x bytes_per_value
  //   kv_cache    = kv_cache_bytes(config, P + T, B, bytes_per_value)  (lesson 02, given: call it)
  //   activation_values: attention B*T*(C + 2*H*D) + B*H*T*S, mlp B*T*(C + 2*F), logits B*T*V
  //   activations = activation_values.peak() x bytes_per_value
  (void)config, (void)work, (void)bytes_per_value;
  throw NotImplemented("lesson05 step 3: memory of weights, KV cache and activations");
}

}  // namespace llm
