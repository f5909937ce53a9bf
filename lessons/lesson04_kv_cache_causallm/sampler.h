// sampler.h — lesson 04's sampling contract (exercise 2, steps 6-11): logit transforms applied to one
// row of logits in a fixed order, then one selector. Every function is pure apart from its in-place
// row, and the random number is an argument, so each step is testable alone and deterministic.
//
//   repetition penalty -> temperature -> top-k -> top-p -> softmax -> draw
//
// (Hugging Face's order, which the course follows. llama.cpp applies temperature last.)
// Filtered-out entries are set to -infinity, so softmax gives them probability exactly 0.
// A row is one token's V logits. NaN and +inf are never valid logits; a row whose every entry is -inf
// has no token left to choose: select_greedy, select_categorical, apply_top_p and sample_next refuse
// all three with InvalidArgument (the other transforms leave such a row as it is).
// Not here: min-p, typical sampling, frequency/presence penalties, beam search.
#pragma once

#include <cstdint>
#include <span>

#include "llm/rng.h"

namespace llm {

// The range validate() accepts for repetition_penalty. Within it x / penalty and x * penalty stay
// finite for every logit |x| < 3.4e35, so a penalised row never holds +inf (softmax: inf - inf = NaN).
inline constexpr float kMinRepetitionPenalty = 1e-3f;
inline constexpr float kMaxRepetitionPenalty = 1e3f;

struct SamplingParams {
  float temperature = 1.0f;         // <= 0 (any negative value too): greedy; NaN or inf: invalid
  int top_k = 50;                   // <= 0 or >= V: no top-k
  float top_p = 1.0f;               // (0, 1]; 1: no top-p
  float repetition_penalty = 1.0f;  // [kMinRepetitionPenalty, kMaxRepetitionPenalty]; 1: none
};

// Step 6. CTRL-style penalty, once per *distinct* id in `history` (ids outside [0, V) are skipped, so a
// negative pad marker does no harm): a positive logit is divided by `penalty`, a negative one
// multiplied by it. penalty == 1 changes nothing.
void apply_repetition_penalty(std::span<float> logits, std::span<const std::int32_t> history, float penalty);

// Step 7. logits /= temperature, for a finite temperature > 0 (InvalidArgument otherwise: greedy never
// divides). -inf stays -inf. When x / temperature would overflow the float range, the row max is
// subtracted first (softmax does not change), so the argmax stays the unique largest value; results
// are clamped to the finite float range.
void apply_temperature(std::span<float> logits, float temperature);

// Step 8. Keep the k largest logits (ties: the lower id wins), set the rest to -inf. k <= 0 or k >= V:
// no-op.
void apply_top_k(std::span<float> logits, int k);

// Step 9. Nucleus filter: softmax the logits (-inf counts as probability 0), sort highest first (ties:
// the lower id first), keep the smallest prefix whose cumulative probability is >= top_p — the token
// that crosses top_p is kept, and at least one token always is — and set the rest to -inf.
// top_p >= 1: no-op. The probabilities and their running sum are computed in double and compared with
// top_p as given (a float: 0.8f is 0.800000011920929), so only thresholds that are exact binary
// fractions (0.5, 0.75, ...) land exactly on a cumulative sum; a decimal one such as 0.8 on
// probabilities {0.5, 0.3, ...} is a hair above 0.5 + 0.3 and keeps one more token.
void apply_top_p(std::span<float> logits, float top_p);

// Step 10a. Greedy: the id of the largest logit, the lowest id on ties.
std::int32_t select_greedy(std::span<const float> logits);

// Step 10b. Categorical draw: softmax the logits and return the first id whose cumulative probability
// exceeds u, for u in [0, 1) (InvalidArgument otherwise). Ids with probability 0 are never returned.
std::int32_t select_categorical(std::span<const float> logits, float u);

// Step 11a. InvalidArgument, naming the value and the limit, for a NaN or infinite temperature, top_p
// outside (0, 1] or NaN, and a repetition_penalty outside [kMinRepetitionPenalty,
// kMaxRepetitionPenalty] or NaN.
void validate(const SamplingParams& params);

// Step 11b. The whole chain on one row (modified in place): validate, penalty, then greedy when
// temperature <= 0 (no random number drawn), else temperature, top-k, top-p and
// select_categorical(logits, rng.uniform()) — exactly one draw.
std::int32_t sample_next(std::span<float> logits, std::span<const std::int32_t> history,
                         const SamplingParams& params, Rng& rng);

}  // namespace llm
