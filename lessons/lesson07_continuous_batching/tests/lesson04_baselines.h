// lesson04_baselines.h — THE place where lesson 07 calls lesson 04's generate(), for the tests and the
// benchmark alike: one request alone (what every engine output is compared with, and the benchmark's
// one-at-a-time policy) and static batching (rows left-padded to the longest prompt, one generate() call
// run until its longest row is done). A change of lesson 04's GenerateOptions is adapted here only.
// No test cases, no doctest: bench/serve_bench.cpp includes it too.
//
// Legend: B requests in a static batch, N0 prompt tokens, V vocab_size.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "causal_lm.h"  // lesson 04 (reference)
#include "request.h"

namespace lesson07_baselines {

using Ids = std::vector<std::int32_t>;

// Lesson 04's options for a request's sampling, eos and seed (max_new_tokens set by the caller).
inline llm::GenerateOptions options_for(const llm::Request& r, int max_new_tokens) {
  llm::GenerateOptions o;
  o.max_new_tokens = max_new_tokens;
  o.sampling = r.sampling;
  o.eos_token_id = r.eos_token_id;
  o.seed = r.seed;
  return o;
}

// What the engine must produce for `r`: lesson 04's generate() on this one prompt (B = 1, its own
// Rng(seed)), cut right after the first stop token (lesson 04 knows eos, not stop ids). Returns the
// generated tokens only. on_token, when given, is called once per generated token (the benchmark's
// clock), before the cut.
inline Ids generate_alone(const llm::CausalLM& model, const llm::Request& r,
                          const std::function<void(std::int32_t)>& on_token = {}) {
  llm::GenerateOptions o = options_for(r, r.max_new_tokens);
  if (on_token) o.on_step = [&](std::span<const std::int32_t> chosen) { on_token(chosen[0]); };
  const llm::IdTensor seq = model.generate(llm::make_ids({r.prompt}), o);
  Ids out(seq.data() + r.prompt.size(), seq.data() + seq.numel());
  const auto stop =
      std::find_first_of(out.begin(), out.end(), r.stop_token_ids.begin(), r.stop_token_ids.end());
  if (stop != out.end()) out.erase(stop + 1, out.end());
  return out;
}

// Static batching, as serving worked before iteration-level scheduling: the B prompts left-padded to the
// longest (attention_mask 0 on the padding), ONE generate() call of max(max_new_tokens) steps for the
// whole batch, greedy (the benchmark's workload; lesson 04 draws for all rows from one generator, so a
// sampled batch would not equal its rows alone). Row b's answer is its first max_new_tokens[b] tokens;
// the steps after that are the waste static batching pays. on_step(step) is called after every step.
inline std::vector<Ids> generate_static_batch(const llm::CausalLM& model, std::span<const llm::Request> batch,
                                              const std::function<void(int)>& on_step = {}) {
  std::size_t longest = 0;
  int steps = 0;
  for (const llm::Request& r : batch) {
    longest = std::max(longest, r.prompt.size());
    steps = std::max(steps, r.max_new_tokens);
  }
  std::vector<Ids> rows;
  llm::IdTensor mask(llm::Shape{static_cast<llm::Index>(batch.size()), static_cast<llm::Index>(longest)}, 1);
  for (std::size_t b = 0; b < batch.size(); ++b) {
    const std::size_t pad = longest - batch[b].prompt.size();
    Ids row(pad, 0);  // any id: the mask hides it
    row.insert(row.end(), batch[b].prompt.begin(), batch[b].prompt.end());
    rows.push_back(std::move(row));
    for (std::size_t t = 0; t < pad; ++t) mask(static_cast<llm::Index>(b), static_cast<llm::Index>(t)) = 0;
  }
  llm::GenerateOptions o;
  o.max_new_tokens = steps;
  o.sampling.temperature = 0.0f;
  o.attention_mask = &mask;
  int step = 0;
  if (on_step) o.on_step = [&](std::span<const std::int32_t>) { on_step(++step); };
  const llm::IdTensor seq = model.generate(llm::make_ids(rows), o);
  std::vector<Ids> out;
  for (std::size_t b = 0; b < batch.size(); ++b) {
    const std::int32_t* row = seq.data() + static_cast<llm::Index>(b) * seq.size(1);
    out.emplace_back(row + longest, row + longest + batch[b].max_new_tokens);
  }
  return out;
}

}  // namespace lesson07_baselines
