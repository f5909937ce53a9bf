// sampler.cpp — YOUR lesson 04 work, exercise 2: the sampling chain, one small function per step.
// Order: repetition penalty -> temperature -> top-k -> top-p -> softmax -> draw.
// The reference lives in solutions/lesson04_kv_cache_causallm/sampler.cpp — try before you look.
#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "llm/errors.h"
#include "llm/ops.h"

namespace llm {

// Exercise 2 — sampling

void apply_repetition_penalty(std::span<float> logits, std::span<const std::int32_t> history, float penalty) {
  // TODO(step 6): once per distinct id of history inside [0, V): divide a positive logit by penalty,
  //   multiply a negative one. penalty == 1 leaves the row alone.
  (void)logits, (void)history, (void)penalty;
  throw NotImplemented("lesson04 step 6: repetition penalty");
}

void apply_temperature(std::span<float> logits, float temperature) {
  // TODO(step 7): divide by temperature (finite and > 0, else InvalidArgument). When x / T would
  //   overflow the float range (a temperature near 0), subtract the row max first — softmax does not
  //   change — so the argmax stays the unique largest value and nothing becomes inf (inf - inf = NaN).
  (void)logits, (void)temperature;
  throw NotImplemented("lesson04 step 7: temperature");
}

void apply_top_k(std::span<float> logits, int k) {
  // TODO(step 8): keep exactly the k largest (ties: lower id), the rest -> -infinity.
  //   k <= 0 or k >= V: no change.
  (void)logits, (void)k;
  throw NotImplemented("lesson04 step 8: top-k filter");
}

void apply_top_p(std::span<float> logits, float top_p) {
  // TODO(step 9): on softmax(logits) sorted highest first, keep the smallest prefix whose cumulative
  //   probability is >= top_p (at least one token); the rest -> -infinity. top_p >= 1: no change.
  //   Probabilities and their sum in double; refuse a row with NaN, +inf or nothing but -inf.
  (void)logits, (void)top_p;
  throw NotImplemented("lesson04 step 9: top-p (nucleus) filter");
}

std::int32_t select_greedy(std::span<const float> logits) {
  // TODO(step 10a): argmax, lowest id on ties; refuse a row with NaN, +inf or nothing but -inf.
  (void)logits;
  throw NotImplemented("lesson04 step 10a: greedy selection");
}

std::int32_t select_categorical(std::span<const float> logits, float u) {
  // TODO(step 10b): softmax, then the first id whose cumulative probability exceeds u in [0, 1).
  (void)logits, (void)u;
  throw NotImplemented("lesson04 step 10b: categorical draw");
}

void validate(const SamplingParams& params) {
  // TODO(step 11a): InvalidArgument for a NaN or infinite temperature, top_p outside (0, 1], a
  //   repetition_penalty outside [kMinRepetitionPenalty, kMaxRepetitionPenalty] or NaN. Name the value
  //   and the limit in the message.
  (void)params;
  throw NotImplemented("lesson04 step 11a: validate the sampling parameters");
}

std::int32_t sample_next(std::span<float> logits, std::span<const std::int32_t> history, const SamplingParams& params,
                         Rng& rng) {
  // TODO(step 11b): validate; penalty; greedy when temperature <= 0 (no draw); else temperature,
  //   top-k, top-p and select_categorical(logits, rng.uniform()).
  (void)logits, (void)history, (void)params, (void)rng;
  throw NotImplemented("lesson04 step 11b: the sampling chain");
}

}  // namespace llm
