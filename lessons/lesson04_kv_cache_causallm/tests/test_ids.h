// test_ids.h — token-id helpers shared by lesson 04's two suites: a deterministic batch of ids and the
// ids a sampler filter kept. No test cases live here.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "llm/tensor.h"

namespace lesson04_test {

// A deterministic (B, T) batch of ids: row b is b*7 + 3t + 1 + offset, wrapped into the vocabulary.
inline llm::IdTensor sample_ids(llm::Index batch, llm::Index len, int vocab, int offset = 0) {
  llm::IdTensor ids(llm::Shape{batch, len});
  for (llm::Index b = 0; b < batch; ++b)
    for (llm::Index t = 0; t < len; ++t)
      ids(b, t) = static_cast<std::int32_t>((b * 7 + 3 * t + 1 + offset) % vocab);
  return ids;
}

// The ids whose logit was not filtered out (is not -inf), in id order.
inline std::vector<std::int32_t> kept_ids(const std::vector<float>& logits) {
  std::vector<std::int32_t> kept;
  for (size_t i = 0; i < logits.size(); ++i)
    if (logits[i] != -std::numeric_limits<float>::infinity()) kept.push_back(static_cast<std::int32_t>(i));
  return kept;
}

}  // namespace lesson04_test
