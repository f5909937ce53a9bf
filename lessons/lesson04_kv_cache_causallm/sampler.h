// sampler.h — lesson 04's sampling contract: logit transforms applied to one row of logits in a
// fixed order, then one selector. Every function is pure apart from its in-place row, and the random
// number is an argument, so each step is testable alone and deterministic.
//
//   repetition penalty -> temperature -> top-k -> top-p -> softmax -> draw
//
// (Hugging Face's order, which the course follows. llama.cpp applies temperature last.)
// Filtered-out entries are set to -infinity, so softmax gives them probability exactly 0.
#pragma once

#include <cstdint>
#include <span>

#include "llm/rng.h"

namespace llm {

struct SamplingParams {
  float temperature = 1.0f;         // <= 0: greedy
  int top_k = 50;                   // <= 0 or >= V: no top-k
  float top_p = 1.0f;               // (0, 1]; 1: no top-p
  float repetition_penalty = 1.0f;  // > 0; 1: none
};

// InvalidArgument for NaN/inf temperature, top_p outside (0, 1], penalty <= 0 or NaN.
void validate(const SamplingParams& params);

// CTRL-style penalty, once per *distinct* id in `history` (ids outside [0, V) are skipped, so a
// negative pad marker does no harm): a positive logit is divided by `penalty`, a negative one
// multiplied by it. penalty == 1 changes nothing.
void apply_repetition_penalty(std::span<float> logits, std::span<const std::int32_t> history, float penalty);

// logits /= temperature, for temperature > 0 (InvalidArgument otherwise: greedy never divides).
void apply_temperature(std::span<float> logits, float temperature);

// Keep the k largest logits (ties: the lower id wins), set the rest to -inf. k <= 0 or k >= V: no-op.
void apply_top_k(std::span<float> logits, int k);

// Nucleus filter: softmax the logits, sort highest first, keep the smallest prefix whose cumulative
// probability reaches top_p (always at least one token), set the rest to -inf. top_p >= 1: no-op.
void apply_top_p(std::span<float> logits, float top_p);

// Greedy: the id of the largest logit, the lowest id on ties.
std::int32_t select_greedy(std::span<const float> logits);

// Categorical draw: softmax the logits and return the first id whose cumulative probability exceeds u,
// for u in [0, 1). Ids with probability 0 are never returned.
std::int32_t select_categorical(std::span<const float> logits, float u);

// The whole chain on one row (modified in place): penalty, then greedy when temperature <= 0,
// else temperature, top-k, top-p and a draw with rng.uniform().
std::int32_t sample_next(std::span<float> logits, std::span<const std::int32_t> history,
                         const SamplingParams& params, Rng& rng);

}  // namespace llm
