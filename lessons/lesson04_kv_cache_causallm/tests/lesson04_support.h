// lesson04_support.h — what lesson 04's two suites share: the ids a sampler filter kept, a model config
// whose greedy runs visit many tokens, column slices of id tensors, a row of a generated sequence, and
// the hand-written greedy loop the generate() cases compare with. No test cases live here.
//
// Legend: B batch, T new tokens, P cached positions, V vocab.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "causal_lm.h"
#include "llm/config.h"
#include "llm/ops.h"
#include "llm/tensor.h"

namespace lesson04_test {

using Ids = std::vector<std::int32_t>;

// The ids whose logit was not filtered out (is not -inf), in id order.
inline Ids kept_ids(const std::vector<float>& logits) {
  Ids kept;
  for (size_t i = 0; i < logits.size(); ++i)
    if (logits[i] != -std::numeric_limits<float>::infinity()) kept.push_back(static_cast<std::int32_t>(i));
  return kept;
}

// For greedy generation: an untied head and a wide initialisation. A tied random model only copies its
// last token (its logit is h . embedding[token] with h close to that embedding), so greedy runs would be
// one token repeated; this one visits many tokens, with top-1/top-2 gaps of 0.02 or more (measured on
// the prompts used here), far above float32 rounding, so every correct implementation picks the same tokens.
inline llm::ModelConfig varied_config() {
  llm::ModelConfig cfg = llm::ModelConfig::lesson();
  cfg.tie_word_embeddings = false;
  cfg.initializer_range = 0.2f;
  return cfg;
}

// Columns [from, to) of a (B, N) id tensor.
inline llm::IdTensor columns(const llm::IdTensor& ids, llm::Index from, llm::Index to) {
  llm::IdTensor out(llm::Shape{ids.size(0), to - from});
  for (llm::Index b = 0; b < ids.size(0); ++b)
    for (llm::Index t = from; t < to; ++t) out(b, t - from) = ids(b, t);
  return out;
}

// Row b of a (B, N) id tensor, from column `from` on.
inline Ids row_tokens(const llm::IdTensor& seq, llm::Index b, llm::Index from = 0) {
  Ids out;
  for (llm::Index t = from; t < seq.size(1); ++t) out.push_back(seq(b, t));
  return out;
}

inline bool contains(const Ids& v, std::int32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// Greedy decoding written out by hand with forward() and the cache: prefill the (1, N) prompt, then
// one token per step, each the argmax of the last logits. Returns the new tokens only.
inline Ids greedy_by_hand(const llm::CausalLM& model, const llm::IdTensor& prompt, int new_tokens) {
  auto out = model.forward(prompt, {.use_cache = true});
  Ids chosen;
  for (int s = 0; s < new_tokens; ++s) {
    const auto next = static_cast<std::int32_t>(llm::argmax(out.logits.row(0, out.logits.size(1) - 1)));
    chosen.push_back(next);
    if (s + 1 < new_tokens)
      out = model.forward(llm::make_ids({{next}}), {.past_key_values = out.past_key_values, .use_cache = true});
  }
  return chosen;
}

}  // namespace lesson04_test
