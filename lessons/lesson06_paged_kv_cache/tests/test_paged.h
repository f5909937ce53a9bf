// test_paged.h — helpers shared by lesson 06's two suites: the contiguous baselines the paged cache is
// compared with (lesson 02's attention, lesson 04's generate()), reading a table's keys and values back
// in logical order, deterministic prompts and models. No test cases live here.
//
// Legend: T new tokens, S positions, H query heads, KV key/value heads, G = H / KV, D head_dim.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "attention.h"  // lesson 02 (reference): scaled_dot_product_attention, repeat_kv
#include "block_pool.h"
#include "block_table.h"
#include "causal_lm.h"  // lesson 04 (reference)
#include "llm/config.h"
#include "llm/tensor.h"
#include "test_support.h"

namespace lesson06_test {

using llm::Index;
using llm::Shape;
using llm::Tensor;
using Ids = std::vector<std::int32_t>;

// THE one call into lesson 04's generate(): greedy, one row, the prompt followed by what it generated.
// Every "token-identical to lesson 04" test goes through here, so a change of lesson 04's options
// (GenerateOptions, its sampler fields) is adapted in this one place.
inline Ids contiguous_greedy(const llm::CausalLM& model, const Ids& prompt, int max_new_tokens,
                             std::optional<std::int32_t> eos = std::nullopt) {
  llm::GenerateOptions options;
  options.max_new_tokens = max_new_tokens;
  options.sampling.temperature = 0.0f;  // greedy
  options.eos_token_id = eos;
  const llm::IdTensor seq = model.generate(llm::make_ids({prompt}), options);
  return Ids(seq.data(), seq.data() + seq.numel());
}

// The lesson config for generation tests: an untied head and a wide initialisation, so that greedy
// decoding visits many tokens with clear margins (a tied random model only repeats its last token).
inline llm::ModelConfig varied_config() {
  llm::ModelConfig cfg = llm::ModelConfig::lesson();
  cfg.tie_word_embeddings = false;
  cfg.initializer_range = 0.2f;
  return cfg;
}

// A small config with H query heads over KV key/value heads (D = 8), for the attention tests.
inline llm::ModelConfig heads_config(int heads, int kv_heads, int layers = 2) {
  llm::ModelConfig cfg = llm::ModelConfig::tiny();
  cfg.num_attention_heads = heads;
  cfg.num_key_value_heads = kv_heads;
  cfg.hidden_size = 8 * heads;
  cfg.num_hidden_layers = layers;
  return cfg;
}

// N deterministic token ids in [1, vocab): a fixed pseudo-random walk from `seed`.
inline Ids prompt_ids(Index n, int vocab, std::uint64_t seed = 1) {
  llm::Rng rng(seed);
  Ids ids;
  for (Index i = 0; i < n; ++i)
    ids.push_back(1 + static_cast<std::int32_t>(rng.next_u64() % static_cast<std::uint64_t>(vocab - 1)));
  return ids;
}

// Rows [from, to) of a (T, X) tensor.
inline Tensor rows(const Tensor& x, Index from, Index to) {
  const Index X = x.size(1);
  Tensor out(Shape{to - from, X});
  std::copy_n(x.data() + from * X, (to - from) * X, out.data());
  return out;
}

// The keys (or values) of positions 0 .. N-1 of `table` in layer `layer`, read slot by slot, in the
// logical layout (KV, N, D). Slots come from table.slot(), so this needs step 2.
inline Tensor gather(const llm::BlockTable& table, Index layer, bool keys) {
  const llm::BlockPool& pool = table.pool();
  const Index KV = pool.num_kv_heads(), D = pool.head_dim(), BS = pool.block_size(), N = table.length();
  Tensor out(Shape{KV, N, D});
  for (Index p = 0; p < N; ++p) {
    const llm::Slot s = table.slot(p);
    for (Index g = 0; g < KV; ++g)
      for (Index d = 0; d < D; ++d)
        out(g, p, d) = keys ? pool.keys(layer, s.block, g)[d * BS + s.offset]
                            : pool.values(layer, s.block, g)[s.offset * D + d];
  }
  return out;
}

// Lesson 02's contiguous attention of T queries at positions P .. P+T-1 over S = P + T positions:
//   q (T, H*D); k, v (S, KV*D) — every position's key and value; returns (T, H*D).
// scaled_dot_product_attention(q, repeat_kv(K, G), repeat_kv(V, G), causal mask bottom-right).
inline Tensor contiguous_attention(const Tensor& q, const Tensor& k, const Tensor& v, Index KV) {
  const Index T = q.size(0), S = k.size(0), D = k.size(1) / KV, H = q.size(1) / D, P = S - T;
  Tensor qh(Shape{1, H, T, D}), kh(Shape{1, KV, S, D}), vh(Shape{1, KV, S, D});
  for (Index h = 0; h < H; ++h)
    for (Index t = 0; t < T; ++t)
      for (Index d = 0; d < D; ++d) qh(0, h, t, d) = q(t, h * D + d);
  for (Index g = 0; g < KV; ++g)
    for (Index s = 0; s < S; ++s)
      for (Index d = 0; d < D; ++d) {
        kh(0, g, s, d) = k(s, g * D + d);
        vh(0, g, s, d) = v(s, g * D + d);
      }
  const Tensor mask = llm::testing::causal_mask(1, T, P);
  const Tensor o = llm::scaled_dot_product_attention(qh, llm::repeat_kv(kh, H / KV), llm::repeat_kv(vh, H / KV), &mask);
  Tensor out(Shape{T, H * D});
  for (Index h = 0; h < H; ++h)
    for (Index t = 0; t < T; ++t)
      for (Index d = 0; d < D; ++d) out(t, h * D + d) = o(0, h, t, d);
  return out;
}

// Every block of the pool is free and owned by nobody: nothing leaked.
inline bool pool_is_empty(const llm::BlockPool& pool) {
  if (pool.num_free() != pool.num_blocks()) return false;
  for (llm::BlockId id = 0; id < pool.num_blocks(); ++id)
    if (pool.ref_count(id) != 0) return false;
  return true;
}

}  // namespace lesson06_test
