// sampler.cpp — reference of lesson 04, exercise 2: the sampling chain, one small function per step.
// Order: repetition penalty -> temperature -> top-k -> top-p -> softmax -> draw.
// Not here: the loop that calls it for every row and step (causal_lm.cpp, step 13).
#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "llm/eigen_view.h"
#include "llm/errors.h"
#include "llm/ops.h"

namespace llm {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// What every function that chooses a token (or normalises the row) needs: a non-empty row without
// NaN or +inf that has at least one token left. The row max tells all three at once (NaN if any entry
// is NaN, +inf if any is +inf, -inf if all are -inf) in one vectorised pass — this runs for every row
// of every step; the bad index is looked for only when there is one.
void check_row(std::span<const float> logits, const char* who) {
  if (logits.empty()) fail<InvalidArgument>(who, ": empty row of logits");
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const float max = as_vector(logits).maxCoeff<Eigen::PropagateNaN>();
  if (std::isnan(max) || max == kInf)
    for (size_t i = 0; i < logits.size(); ++i) {
      if (std::isnan(logits[i])) fail<InvalidArgument>(who, ": logit at index ", i, " is NaN");
      // +inf would make softmax compute inf - inf = NaN; a model never produces it unless it overflowed.
      if (logits[i] == kInf) fail<InvalidArgument>(who, ": logit at index ", i, " is +inf");
    }
  if (max == kNegInf) fail<InvalidArgument>(who, ": all ", logits.size(), " logits are -inf: no token is left to choose");
}

// Ids sorted by logit, highest first; ties keep the lower id first (stable sort).
std::vector<std::int32_t> order_by_logit(std::span<const float> logits) {
  std::vector<std::int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](std::int32_t a, std::int32_t b) {
    return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)];
  });
  return ids;
}
}  // namespace

// Step 6: the repetition penalty.
void apply_repetition_penalty(std::span<float> logits, std::span<const std::int32_t> history, float penalty) {
  if (penalty == 1.0f) return;
  std::vector<bool> seen(logits.size(), false);
  for (std::int32_t id : history) {
    if (id < 0 || static_cast<size_t>(id) >= logits.size() || seen[static_cast<size_t>(id)]) continue;
    seen[static_cast<size_t>(id)] = true;  // once per distinct token, however often it occurred
    float& x = logits[static_cast<size_t>(id)];
    // Dividing a negative logit would *raise* it; multiplying pushes it further down instead.
    x = x > 0.0f ? x / penalty : x * penalty;
  }
}

// Step 7: temperature.
void apply_temperature(std::span<float> logits, float temperature) {
  if (!(temperature > 0.0f) || std::isinf(temperature))
    fail<InvalidArgument>("apply_temperature: temperature = ", temperature,
                          " must be finite and > 0 (use greedy for 0)");
  // A tiny temperature can push x / T past the float range, and every logit that overflows would
  // tie at the largest float. Softmax does not change when a constant is subtracted, so in that case
  // divide (x - max) instead: the largest logit becomes 0 and stays the unique winner, the others
  // go far below it (clamped so they stay finite). -inf stays -inf.
  constexpr float kMax = std::numeric_limits<float>::max();
  float max = kNegInf, max_abs = 0.0f;
  for (float x : logits)
    if (x != kNegInf) max = std::max(max, x), max_abs = std::max(max_abs, std::fabs(x));
  const bool overflows = max_abs / kMax > temperature;  // max_abs / T > kMax, without overflowing
  const float shift = overflows ? max : 0.0f;
  for (float& x : logits)
    if (x != kNegInf) x = std::clamp((x - shift) / temperature, -kMax, kMax);
}

// Step 8: top-k.
void apply_top_k(std::span<float> logits, int k) {
  if (k <= 0 || static_cast<size_t>(k) >= logits.size()) return;
  const std::vector<std::int32_t> order = order_by_logit(logits);
  for (size_t r = static_cast<size_t>(k); r < order.size(); ++r) logits[static_cast<size_t>(order[r])] = kNegInf;
}

// Step 9: top-p.
void apply_top_p(std::span<float> logits, float top_p) {
  if (top_p >= 1.0f) return;
  check_row(logits, "apply_top_p");
  // Probabilities of what survived the earlier filters (-inf entries get 0), renormalised, in double:
  // summed in float, a 32000-token row drifts by more than the gap between top_p = 0.99999 and 1.
  const float max = *std::max_element(logits.begin(), logits.end());
  std::vector<double> probs(logits.size());
  double total = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) total += probs[i] = std::exp(static_cast<double>(logits[i]) - max);
  const std::vector<std::int32_t> order = order_by_logit(logits);
  double cumulative = 0.0;
  size_t keep = 0;
  while (keep < order.size()) {
    cumulative += probs[static_cast<size_t>(order[keep])] / total;
    ++keep;  // the token that crosses top_p is kept: the set is the smallest reaching top_p
    if (cumulative >= static_cast<double>(top_p)) break;
  }
  for (size_t r = keep; r < order.size(); ++r) logits[static_cast<size_t>(order[r])] = kNegInf;
}

// Step 10a: greedy.
std::int32_t select_greedy(std::span<const float> logits) {
  check_row(logits, "select_greedy");
  return static_cast<std::int32_t>(argmax(logits));  // ties: the lowest index
}

// Step 10b: the categorical draw.
std::int32_t select_categorical(std::span<const float> logits, float u) {
  check_row(logits, "select_categorical");
  if (!(u >= 0.0f && u < 1.0f)) fail<InvalidArgument>("select_categorical: u = ", u, " must be in [0, 1)");
  std::vector<float> probs(logits.begin(), logits.end());
  softmax_inplace(probs);
  // Inverse CDF: the first id whose cumulative probability exceeds u.
  float cumulative = 0.0f;
  std::int32_t last_possible = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] <= 0.0f) continue;
    cumulative += probs[i];
    last_possible = static_cast<std::int32_t>(i);
    if (u < cumulative) return last_possible;
  }
  return last_possible;  // rounding left the total a hair below u: the last possible id
}

// Step 11a: the parameter checks.
void validate(const SamplingParams& p) {
  if (std::isnan(p.temperature) || std::isinf(p.temperature))
    fail<InvalidArgument>("temperature = ", p.temperature, " must be a finite number (<= 0 means greedy)");
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) fail<InvalidArgument>("top_p = ", p.top_p, " must be in (0, 1]");
  if (!(p.repetition_penalty >= kMinRepetitionPenalty && p.repetition_penalty <= kMaxRepetitionPenalty))
    fail<InvalidArgument>("repetition_penalty = ", p.repetition_penalty, " must be in [", kMinRepetitionPenalty,
                          ", ", kMaxRepetitionPenalty, "]");
}

// Step 11b: the chain.
std::int32_t sample_next(std::span<float> logits, std::span<const std::int32_t> history, const SamplingParams& params,
                         Rng& rng) {
  validate(params);
  check_row(logits, "sample_next");
  apply_repetition_penalty(logits, history, params.repetition_penalty);
  if (params.temperature <= 0.0f) return select_greedy(logits);  // greedy draws no random number
  apply_temperature(logits, params.temperature);
  apply_top_k(logits, params.top_k);
  apply_top_p(logits, params.top_p);
  return select_categorical(logits, rng.uniform());
}

}  // namespace llm
