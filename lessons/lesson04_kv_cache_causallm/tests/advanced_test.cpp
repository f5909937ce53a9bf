// advanced_test.cpp — lesson 04's advanced suite: the course's advanced cases (sampling settings,
// per-layer cache, multi-step decoding, prepare_inputs_for_generation, seeds, a long run) and the
// properties the course never checked: cached == uncached at every position, causality, positions
// that continue from the cache, GQA == repeated-head attention, the loss by hand, the sampler's
// filters against their definitions and its frequencies, padding and EOS in batched generation,
// invalid inputs, and the real stories260K model against llama2.c's reference output.
//
// Legend: B batch, T new tokens, P cached positions, S = P + T, C hidden, V vocab, L layers,
// H query heads, KV key/value heads, D head_dim.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "causal_lm.h"
#include "llm/checkpoint.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "llm/ops.h"
#include "llm/rng.h"
#include "llm/tensor.h"
#include "tokenizer.h"
#include "sampler.h"
#include "test_ids.h"
#include "test_support.h"

using llm::CausalLM;
using llm::IdTensor;
using llm::Index;
using llm::InvalidArgument;
using llm::ModelConfig;
using llm::Shape;
using llm::Tensor;
using Ids = std::vector<std::int32_t>;

namespace {

using lesson04_test::kept_ids;
using lesson04_test::sample_ids;
using llm::testing::error_message;
using llm::testing::max_diff;
using llm::testing::tokens;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr std::uint64_t kSeed = 42;

// Cached and uncached logits are the same sums of float32 products taken in a different order
// (matrix-vector products over the cache versus one matrix-matrix product over the sequence), so they
// agree only to float32 rounding: measured 4e-7 on the lesson config (|logit| < 1) and up to 3e-6 with
// the wider initialisations used below. 1e-4 leaves a wide margin for a student's own summation order,
// yet sits far below what a real bug changes (a wrong position, a missing key or a misplaced head moves
// logits by 1e-2 or more in these tests).
constexpr float kTol = 1e-4f;

// For greedy generation: an untied head and a wide initialisation. A tied random model only copies its
// last token (its logit is h . embedding[token] with h close to that embedding), so greedy runs would be
// one token repeated; this one visits many tokens, with top-1/top-2 gaps of 0.02 or more (measured on
// the prompts used here), far above float32 rounding, so every correct implementation picks the same tokens.
ModelConfig varied_config() {
  ModelConfig cfg = ModelConfig::lesson();
  cfg.tie_word_embeddings = false;
  cfg.initializer_range = 0.2f;
  return cfg;
}

// Columns [from, to) of a (B, N) id tensor.
IdTensor columns(const IdTensor& ids, Index from, Index to) {
  IdTensor out(Shape{ids.size(0), to - from});
  for (Index b = 0; b < ids.size(0); ++b)
    for (Index t = from; t < to; ++t) out(b, t - from) = ids(b, t);
  return out;
}

// Row b of a generated sequence, from column `from` on.
Ids row_tokens(const IdTensor& seq, Index b, Index from = 0) {
  Ids out;
  for (Index t = from; t < seq.size(1); ++t) out.push_back(seq(b, t));
  return out;
}

bool contains(const Ids& v, std::int32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// Build a model of config `to_cfg` that holds `from`'s weights, except that the K/V projection rows of
// query head h are the rows of `from`'s KV head kv_of(h) (to_cfg has one KV head per query head).
CausalLM expanded_copy(const CausalLM& from, const ModelConfig& to_cfg, const std::function<Index(Index)>& kv_of) {
  CausalLM to(to_cfg, /*seed=*/99);
  const Index H = to_cfg.num_attention_heads, D = to_cfg.head_dim();
  auto expand = [&](const Tensor& w) {  // (KV*D, C) -> (H*D, C)
    Tensor out(Shape{H * D, w.size(1)});
    for (Index h = 0; h < H; ++h)
      for (Index r = 0; r < D; ++r) std::copy_n(w.row(kv_of(h) * D + r).data(), w.size(1), out.row(h * D + r).data());
    return out;
  };
  *to.embed_tokens.weight = *from.embed_tokens.weight;  // tied: lm_head shares it
  to.norm.weight = from.norm.weight;
  for (size_t l = 0; l < from.layers.size(); ++l) {
    const llm::DecoderLayer& src = from.layers[l];
    llm::DecoderLayer& dst = to.layers[l];
    dst.input_layernorm.weight = src.input_layernorm.weight;
    dst.post_attention_layernorm.weight = src.post_attention_layernorm.weight;
    *dst.self_attn.q_proj.weight = *src.self_attn.q_proj.weight;
    *dst.self_attn.o_proj.weight = *src.self_attn.o_proj.weight;
    *dst.self_attn.k_proj.weight = expand(*src.self_attn.k_proj.weight);
    *dst.self_attn.v_proj.weight = expand(*src.self_attn.v_proj.weight);
    *dst.mlp.gate_proj.weight = *src.mlp.gate_proj.weight;
    *dst.mlp.up_proj.weight = *src.mlp.up_proj.weight;
    *dst.mlp.down_proj.weight = *src.mlp.down_proj.weight;
  }
  return to;
}

}  // namespace

// ================================================================================================
// The course's advanced cases
// ================================================================================================

TEST_CASE("step 7: temperature 2.0 and 0.1 generate the requested length") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 5, cfg.vocab_size);
  for (float temperature : {2.0f, 0.1f}) {
    CAPTURE(temperature);
    const IdTensor seq = model.generate(prompt, {.max_new_tokens = 10, .temperature = temperature, .seed = 5});
    REQUIRE_MESSAGE(seq.shape() == Shape({1, 15}), "sampling returns prompt + max_new_tokens tokens");
    CHECK_MESSAGE(row_tokens(seq, 0).front() == prompt(0, 0), "the output starts with the prompt");
    for (std::int32_t id : row_tokens(seq, 0, 5))
      CHECK_MESSAGE((id >= 0 && id < cfg.vocab_size), "sampled ids are in [0, vocab_size)");
  }
}

TEST_CASE("step 7: top-k 10 and top-p 0.9 generate the requested length") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 5, cfg.vocab_size);
  const IdTensor topk = model.generate(prompt, {.max_new_tokens = 10, .top_k = 10, .seed = 1});
  const IdTensor topp = model.generate(prompt, {.max_new_tokens = 10, .top_p = 0.9f, .top_k = 0, .seed = 1});
  CHECK_MESSAGE(topk.shape() == Shape({1, 15}), "top-k sampling returns prompt + max_new_tokens tokens");
  CHECK_MESSAGE(topp.shape() == Shape({1, 15}), "top-p sampling returns prompt + max_new_tokens tokens");

  // Every top-k token is among the 10 largest logits of its step (teacher-forced: one forward over the
  // whole output gives each step's logits). Logits within kTol of the chosen one are not counted above it.
  const Tensor logits = model.forward(topk).logits;
  for (Index t = 5; t < 15; ++t) {
    CAPTURE(t);
    const auto row = logits.row(0, t - 1);
    const float chosen = row[static_cast<size_t>(topk(0, t))];
    const auto above = std::count_if(row.begin(), row.end(), [&](float x) { return x > chosen + kTol; });
    CHECK_MESSAGE(above < 10, "top_k = 10 must sample only among the 10 largest logits of the step");
  }
}

TEST_CASE("step 4: a 4-layer model keeps one cache entry per layer") {
  ModelConfig cfg = ModelConfig::lesson();
  cfg.num_hidden_layers = 4;
  const CausalLM model(cfg, kSeed);
  const auto out = model.forward(sample_ids(1, 6, cfg.vocab_size), {.use_cache = true});
  REQUIRE(out.past_key_values != nullptr);
  REQUIRE_MESSAGE(out.past_key_values->num_layers() == 4, "one cache entry per decoder layer");
  for (Index l = 0; l < 4; ++l) {
    CAPTURE(l);
    CHECK_MESSAGE(out.past_key_values->layer(l).length() == 6,
                  "layer l must append to its own entry cache->layer(l): each holds the 6 positions once");
  }
  for (Index l = 0; l + 1 < 4; ++l) {
    CAPTURE(l);
    CHECK_MESSAGE(max_diff(out.past_key_values->layer(l).key_states(), out.past_key_values->layer(l + 1).key_states()) >
                      0.0f,
                  "each layer caches its own keys (different weights give different K)");
  }
}

TEST_CASE("step 4: multi-step decoding grows the cache by one position per step") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  auto out = model.forward(sample_ids(1, 4, cfg.vocab_size), {.use_cache = true});
  REQUIRE(out.past_key_values != nullptr);
  const std::shared_ptr<llm::KVCache> cache = out.past_key_values;
  for (int step = 1; step <= 5; ++step) {
    CAPTURE(step);
    const auto next = static_cast<std::int32_t>(llm::argmax(out.logits.row(0, out.logits.size(1) - 1)));
    out = model.forward(llm::make_ids({{next}}), {.past_key_values = cache, .use_cache = true});
    CHECK_MESSAGE(out.logits.shape() == Shape({1, 1, cfg.vocab_size}), "one token in, one row of logits out");
    CHECK_MESSAGE(cache->seq_length() == 4 + step, "each decode step appends exactly one position to the cache");
  }
}

TEST_CASE("step 6: prepare_inputs_for_generation feeds only the uncached tokens with their positions") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor seq = sample_ids(1, 7, cfg.vocab_size);

  const llm::GenerationInputs first = model.prepare_inputs_for_generation(seq, nullptr);
  CHECK_MESSAGE(first.input_ids.shape() == Shape({1, 7}), "with no cache every token is new");
  CHECK(row_tokens(first.input_ids, 0) == row_tokens(seq, 0));
  CHECK_MESSAGE(row_tokens(first.position_ids, 0) == Ids({0, 1, 2, 3, 4, 5, 6}), "positions start at 0");

  const auto out = model.forward(columns(seq, 0, 5), {.use_cache = true});
  REQUIRE(out.past_key_values != nullptr);
  const llm::GenerationInputs in = model.prepare_inputs_for_generation(seq, out.past_key_values.get());
  REQUIRE_MESSAGE(in.input_ids.shape() == Shape({1, 2}),
                  "with 5 cached positions only the last 2 of 7 tokens are fed: the cache already holds the rest");
  CHECK(in.input_ids(0, 0) == seq(0, 5));
  CHECK(in.input_ids(0, 1) == seq(0, 6));
  CHECK_MESSAGE(row_tokens(in.position_ids, 0) == Ids({5, 6}), "positions must continue from the cache length");
  CHECK_MESSAGE(row_tokens(in.attention_mask, 0) == Ids(7, 1), "no mask given: all ones over cached + new tokens");

  // With one pad column on the left the positions count real tokens only: 4 5 instead of 5 6.
  const IdTensor mask = llm::make_ids({{0, 1, 1, 1, 1, 1, 1}});
  const llm::GenerationInputs padded = model.prepare_inputs_for_generation(seq, out.past_key_values.get(), &mask);
  CHECK_MESSAGE(row_tokens(padded.position_ids, 0) == Ids({4, 5}),
                "with left padding the positions are cumsum(mask) - 1 over the full mask");
  CHECK_MESSAGE(row_tokens(padded.attention_mask, 0) == row_tokens(mask, 0), "the given mask is handed on");
}

TEST_CASE("step 4: logits at positions 0 and 7 differ") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const Tensor logits = model.forward(sample_ids(1, 8, cfg.vocab_size)).logits;
  CHECK_MESSAGE(max_diff(tokens(logits, 0, 1), tokens(logits, 7, 8)) > 1e-3f,
                "each position gets its own prediction: rows 0 and 7 must not be copies");
}

TEST_CASE("step 7: the same seed gives the same tokens and different seeds differ") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 4, cfg.vocab_size);
  const llm::GenerateOptions a{.max_new_tokens = 10, .temperature = 1.0f, .seed = 11};
  llm::GenerateOptions b = a;
  b.seed = 12;
  const IdTensor first = model.generate(prompt, a);
  const IdTensor again = model.generate(prompt, a);
  const IdTensor other = model.generate(prompt, b);
  CHECK_MESSAGE(row_tokens(first, 0) == row_tokens(again, 0),
                "generate must draw from llm::Rng(options.seed) only: the same seed gives the same tokens");
  // At temperature 1 over a near-uniform top-50, 10 equal draws by chance have probability ~50^-10.
  CHECK_MESSAGE(row_tokens(first, 0) != row_tokens(other, 0), "the seed must reach the sampler: seeds 11 and 12 differ");
}

TEST_CASE("step 7: a long greedy run of 3 + 50 tokens follows the argmax at every step") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor seq = model.generate(sample_ids(1, 3, cfg.vocab_size), {.max_new_tokens = 50, .temperature = 0.0f});
  REQUIRE_MESSAGE(seq.shape() == Shape({1, 53}), "3 + 50 tokens");
  // Teacher forcing: one uncached forward over the result gives every step's logits.
  const Tensor logits = model.forward(seq).logits;
  for (Index t = 3; t < 53; ++t) {
    CAPTURE(t);
    const auto row = logits.row(0, t - 1);
    const float best = *std::max_element(row.begin(), row.end());
    CHECK_MESSAGE(row[static_cast<size_t>(seq(0, t))] >= best - kTol,
                  "greedy with the cache must pick the argmax of the full forward at every step: positions or cache "
                  "drift over a long run");
  }
}

// ================================================================================================
// The cache and the positions
// ================================================================================================

TEST_CASE("step 4: decoding token by token with the cache matches the full forward at every position") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor ids = sample_ids(2, 12, cfg.vocab_size);
  const Tensor full = model.forward(ids).logits;  // (2, 12, V)

  std::shared_ptr<llm::KVCache> cache;
  for (Index t = 0; t < 12; ++t) {
    CAPTURE(t);
    const auto out = model.forward(columns(ids, t, t + 1), {.past_key_values = cache, .use_cache = true});
    cache = out.past_key_values;
    REQUIRE(cache != nullptr);
    CHECK_MESSAGE(max_diff(out.logits, tokens(full, t, t + 1)) <= kTol,
                  "the cached decode step must equal the full forward's row t: positions continue from the cache "
                  "length and the new token attends to every cached key");
  }
}

TEST_CASE("step 4: chunked prefill of 3 + 4 + 1 tokens matches a one-shot forward") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor ids = sample_ids(2, 8, cfg.vocab_size, 100);
  const Tensor full = model.forward(ids).logits;
  std::shared_ptr<llm::KVCache> cache;
  const Index bounds[] = {0, 3, 7, 8};
  for (int c = 0; c < 3; ++c) {
    const Index from = bounds[c], to = bounds[c + 1];
    CAPTURE(from);
    CAPTURE(to);
    const auto out = model.forward(columns(ids, from, to), {.past_key_values = cache, .use_cache = true});
    cache = out.past_key_values;
    REQUIRE(cache != nullptr);
    CHECK_MESSAGE(max_diff(out.logits, tokens(full, from, to)) <= kTol,
                  "a chunk of several new tokens after a cache needs the causal mask aligned bottom-right "
                  "(token t sees keys <= P + t) and positions P..P+T-1");
  }
  CHECK(cache->seq_length() == 8);
}

TEST_CASE("step 3: changing a future token leaves every earlier position unchanged") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor ids = sample_ids(1, 10, cfg.vocab_size);
  IdTensor changed = ids;
  changed(0, 6) = (ids(0, 6) + 123) % cfg.vocab_size;
  const Tensor a = model.forward(ids).logits, b = model.forward(changed).logits;
  // Masked keys get weight exp(-inf) = 0 exactly, so rows 0..5 are the same sums: equal to the last bit.
  // 1e-6 only forgives a summation order that differs between the two calls.
  CHECK_MESSAGE(max_diff(tokens(a, 0, 6), tokens(b, 0, 6)) <= 1e-6f,
                "causality: positions before 6 must not see token 6 (the mask must hide future keys)");
  CHECK_MESSAGE(max_diff(tokens(a, 6, 7), tokens(b, 6, 7)) > 1e-3f,
                "position 6 itself must see its own (changed) token");
  CHECK_MESSAGE(max_diff(tokens(a, 9, 10), tokens(b, 9, 10)) > 1e-5f, "later positions see token 6");
}

TEST_CASE("step 2: a decode step continues positions from the cache length") {
  ModelConfig cfg = ModelConfig::lesson();
  cfg.initializer_range = 0.1f;  // sharper attention, so that RoPE positions matter clearly in the logits
  const CausalLM model(cfg, kSeed);
  const IdTensor ids = sample_ids(1, 7, cfg.vocab_size);
  const Tensor row6 = tokens(model.forward(ids).logits, 6, 7);
  const IdTensor last = columns(ids, 6, 7);

  const auto prefill = model.forward(columns(ids, 0, 6), {.use_cache = true});
  REQUIRE(prefill.past_key_values != nullptr);
  const auto step = model.forward(last, {.past_key_values = prefill.past_key_values});
  CHECK_MESSAGE(max_diff(step.logits, row6) <= kTol,
                "the default position of a decode step is the cache length (6), not 0");

  // The same step with its position forced to 0: what a model that restarts positions computes.
  const auto again = model.forward(columns(ids, 0, 6), {.use_cache = true});
  const IdTensor zero = llm::make_ids({{0}});
  const auto restarted = model.forward(last, {.position_ids = &zero, .past_key_values = again.past_key_values});
  CHECK_MESSAGE(max_diff(restarted.logits, row6) > 100 * kTol,
                "position 0 for the 7th token must give different logits: positions matter, so the test above "
                "really checks them");
}

TEST_CASE("step 4: grouped-query attention equals multi-head attention with KV heads repeated h / groups") {
  ModelConfig gqa_cfg = ModelConfig::tiny();  // 4 query heads, 2 KV heads: groups of 2
  gqa_cfg.initializer_range = 0.2f;           // sharp attention, so a wrong head mapping shows clearly
  REQUIRE(gqa_cfg.num_attention_heads == 4);
  REQUIRE(gqa_cfg.num_key_value_heads == 2);
  ModelConfig mha_cfg = gqa_cfg;
  mha_cfg.num_key_value_heads = 4;

  const CausalLM gqa(gqa_cfg, kSeed);
  const Index groups = gqa_cfg.num_key_value_groups();
  const CausalLM repeated = expanded_copy(gqa, mha_cfg, [&](Index h) { return h / groups; });
  const CausalLM interleaved = expanded_copy(gqa, mha_cfg, [&](Index h) { return h % gqa_cfg.num_key_value_heads; });

  const IdTensor ids = sample_ids(2, 6, gqa_cfg.vocab_size);
  const Tensor g = gqa.forward(ids).logits;
  CHECK_MESSAGE(max_diff(g, repeated.forward(ids).logits) <= kTol,
                "GQA: query head h must read KV head h / (H / KV), i.e. consecutive query heads share a KV head");
  CHECK_MESSAGE(max_diff(g, interleaved.forward(ids).logits) > 1e-3f,
                "the h % KV mapping is a different model (the comparison above can tell them apart)");

  // The same holds through the cache: decode the last token after a prefill of 5.
  const auto pre = gqa.forward(columns(ids, 0, 5), {.use_cache = true});
  const auto step = gqa.forward(columns(ids, 5, 6), {.past_key_values = pre.past_key_values});
  CHECK_MESSAGE(max_diff(step.logits, tokens(g, 5, 6)) <= kTol, "GQA with the cache equals GQA without it");
}

// ================================================================================================
// The loss
// ================================================================================================

TEST_CASE("step 5: the loss is the mean NLL over labels that are not -100") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor ids = sample_ids(2, 6, cfg.vocab_size);
  // Already shifted: labels[b][t] is the target of logits[b][t]. Three positions are ignored.
  const IdTensor labels = llm::make_ids({{4, -100, 17, 999, 0, 250}, {-100, 3, 3, 42, 7, -100}});
  const auto out = model.forward(ids, {.labels = &labels});
  REQUIRE(out.loss.has_value());

  double total = 0.0;
  int count = 0;
  for (Index b = 0; b < 2; ++b)
    for (Index t = 0; t < 6; ++t) {
      if (labels(b, t) == -100) continue;
      const auto row = out.logits.row(b, t);
      const double max = *std::max_element(row.begin(), row.end());
      double sum = 0.0;
      for (float x : row) sum += std::exp(static_cast<double>(x) - max);
      const double log_prob = static_cast<double>(row[static_cast<size_t>(labels(b, t))]) - max - std::log(sum);
      total -= log_prob;
      ++count;
    }
  REQUIRE(count == 9);
  const double expected = total / count;
  CAPTURE(expected);
  CHECK_MESSAGE(*out.loss == doctest::Approx(expected).epsilon(1e-5),
                "loss = mean over labels != -100 of -log softmax(logits[b][t])[labels[b][t]]; labels are already "
                "shifted (no shift inside the model) and -100 positions count neither in the sum nor in the mean");
}

// ================================================================================================
// The sampler against its definitions
// ================================================================================================

TEST_CASE("step 10: top-k 1 in generate equals greedy") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(2, 4, cfg.vocab_size);
  const IdTensor greedy = model.generate(prompt, {.max_new_tokens = 8, .temperature = 0.0f});
  for (float temperature : {1.0f, 0.7f}) {
    CAPTURE(temperature);
    const IdTensor top1 = model.generate(prompt, {.max_new_tokens = 8, .temperature = temperature, .top_k = 1, .seed = 9});
    CHECK_MESSAGE(row_tokens(top1, 0) == row_tokens(greedy, 0), "top_k = 1 keeps only the argmax: sampling is greedy");
    CHECK_MESSAGE(row_tokens(top1, 1) == row_tokens(greedy, 1), "top_k = 1 keeps only the argmax: sampling is greedy");
  }
}

TEST_CASE("step 11: a tiny top-p in generate equals greedy") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(2, 4, cfg.vocab_size, 30);
  const IdTensor greedy = model.generate(prompt, {.max_new_tokens = 8, .temperature = 0.0f});
  const IdTensor tiny = model.generate(prompt, {.max_new_tokens = 8, .top_p = 1e-6f, .top_k = 0, .seed = 4});
  CHECK_MESSAGE(row_tokens(tiny, 0) == row_tokens(greedy, 0),
                "top_p = 1e-6 keeps the single most likely token (top-p always keeps at least one)");
  CHECK_MESSAGE(row_tokens(tiny, 1) == row_tokens(greedy, 1),
                "top_p = 1e-6 keeps the single most likely token (top-p always keeps at least one)");
}

TEST_CASE("step 11: top-p 0.75 on probabilities 0.5 0.25 0.125 0.125 keeps exactly 2") {
  const std::vector<float> base = {std::log(0.25f), std::log(0.125f), std::log(0.5f), std::log(0.125f)};
  auto row = base;
  llm::apply_top_p(row, 0.75f);
  CHECK_MESSAGE(kept_ids(row) == Ids({0, 2}),
                "0.5 + 0.25 reaches 0.75: the prefix that REACHES top_p is kept (>=), no more and no less");
  // Through the whole chain: whatever u, only ids 2 and 0 come out.
  llm::Rng rng(21);
  for (int i = 0; i < 200; ++i) {
    auto r = base;
    const auto id = llm::sample_next(r, {}, {.temperature = 1.0f, .top_k = 0, .top_p = 0.75f}, rng);
    CAPTURE(i);
    CHECK_MESSAGE((id == 0 || id == 2), "top_p = 0.75 must never sample the two 0.125 tokens");
  }
}

TEST_CASE("step 11: top-p applies to the distribution renormalised after top-k") {
  // Probabilities 0.4 0.3 0.1 0.1 0.1. Top-k 2 leaves 0.4 and 0.3, renormalised 0.571 and 0.429.
  // Top-p 0.5 on that keeps only id 0 (0.571 >= 0.5); on the original distribution it would keep
  // ids 0 and 1 (0.4 < 0.5 <= 0.7).
  const std::vector<float> base = {std::log(0.4f), std::log(0.3f), std::log(0.1f), std::log(0.1f), std::log(0.1f)};
  auto row = base;
  llm::apply_top_k(row, 2);
  llm::apply_top_p(row, 0.5f);
  CHECK_MESSAGE(kept_ids(row) == Ids({0}),
                "top-p must renormalise after top-k: softmax over the surviving logits (-inf counts as 0)");
  auto original = base;
  llm::apply_top_p(original, 0.5f);
  CHECK_MESSAGE(kept_ids(original) == Ids({0, 1}), "without top-k, 0.4 alone does not reach 0.5");

  llm::Rng rng(5);
  for (int i = 0; i < 200; ++i) {
    auto r = base;
    CAPTURE(i);
    CHECK_MESSAGE(llm::sample_next(r, {}, {.temperature = 1.0f, .top_k = 2, .top_p = 0.5f}, rng) == 0,
                  "the chain order is top-k then top-p: only id 0 survives both");
  }
}

TEST_CASE("step 8: the penalty divides positives and multiplies negatives once per distinct token") {
  std::vector<float> row = {4.0f, -4.0f, 3.0f};
  const Ids history = {0, 0, 0, 1, 1, 1, 1};
  llm::apply_repetition_penalty(row, history, 2.0f);
  CHECK_MESSAGE(row[0] == doctest::Approx(2.0f), "a positive logit is divided once however often it repeats: 4 / 2");
  CHECK_MESSAGE(row[1] == doctest::Approx(-8.0f),
                "a negative logit is multiplied (dividing would raise it) once however often it repeats: -4 * 2");
  CHECK(row[2] == 3.0f);
  // The penalty reorders the choice: token 0 drops below token 2.
  std::vector<float> again = {4.0f, -4.0f, 3.0f};
  llm::Rng rng(0);
  CHECK_MESSAGE(llm::sample_next(again, history, {.temperature = 0.0f, .repetition_penalty = 2.0f}, rng) == 2,
                "sample_next applies the penalty before choosing");
}

TEST_CASE("step 7: a strong repetition penalty in generate never repeats a token") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 4, cfg.vocab_size);
  // 1e6 pushes every seen token's logit to about 0 (positive) or far below (negative), under the best
  // unseen positive logit: a greedy run can only repeat a token the history forgot.
  const IdTensor seq = model.generate(prompt, {.max_new_tokens = 16, .temperature = 0.0f, .repetition_penalty = 1e6f});
  const Ids all = row_tokens(seq, 0);
  for (size_t i = 4; i < all.size(); ++i) {
    CAPTURE(i);
    CHECK_MESSAGE(!contains(Ids(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(i)), all[i]),
                  "the penalty history is the row's prompt plus every token generated so far");
  }
}

TEST_CASE("step 9: a temperature of 1e-30 gives no NaN and picks the argmax") {
  // 1e9 / 1e-30 overflows float: the result must stay finite so the softmax never computes inf - inf.
  std::vector<float> big = {1e9f, 5.0f, -1e9f, -kInf};
  llm::apply_temperature(big, 1e-30f);
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK_MESSAGE(std::isfinite(big[i]), "apply_temperature must keep the results finite (clamp to the float range)");
  }
  CHECK_MESSAGE(big[3] == -kInf, "a filtered logit stays -inf");
  CHECK_MESSAGE(big[0] > big[1], "the order of the logits is kept");

  llm::Rng rng(8);
  for (int i = 0; i < 50; ++i) {
    CAPTURE(i);
    std::vector<float> row = {1.0f, 3.0f, 2.0f, -1.0f};
    CHECK_MESSAGE(llm::sample_next(row, {}, {.temperature = 1e-30f, .top_k = 0}, rng) == 1,
                  "a temperature near 0 concentrates all probability on the argmax");
    std::vector<float> huge = {5.0f, 1e9f, -1e9f};
    CHECK_MESSAGE(llm::sample_next(huge, {}, {.temperature = 1e-30f, .top_k = 0}, rng) == 1,
                  "an overflowing logit must not turn into NaN (inf - inf) in the softmax");
    // Here *every* logit overflows when divided: they must not all tie at the largest float.
    std::vector<float> all_big = {1e9f, 3e9f, 2e9f};
    CHECK_MESSAGE(llm::sample_next(all_big, {}, {.temperature = 1e-30f, .top_k = 0}, rng) == 1,
                  "when x / T overflows subtract the row max first: the argmax must stay the winner");
    std::vector<float> denormal_t = {1.0f, 3.0f, 2.0f};
    CHECK_MESSAGE(llm::sample_next(denormal_t, {}, {.temperature = 1e-40f, .top_k = 0}, rng) == 1,
                  "a temperature of 1e-40 must still pick the argmax");
  }
}

TEST_CASE("step 13: sampled frequencies match the filtered distribution under a chi-square bound") {
  // logits / 0.7, top-k 5, top-p 0.9. Worked out below in double: after top-k the probabilities of
  // ids 0..4 are 0.525 0.257 0.126 0.062 0.030, cumulative 0.525 0.782 0.908 -> top-p keeps ids 0 1 2,
  // renormalised 0.578 0.283 0.139. Ids 3..7 must never be drawn.
  const std::vector<float> logits = {2.0f, 1.5f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, -3.0f};
  const llm::SamplingParams params{.temperature = 0.7f, .top_k = 5, .top_p = 0.9f};

  std::vector<double> p(5);
  double z = 0.0;
  for (size_t i = 0; i < 5; ++i) z += p[i] = std::exp(logits[i] / 0.7);
  double cumulative = 0.0;
  size_t keep = 0;
  while (keep < 5 && cumulative < 0.9) cumulative += p[keep++] / z;
  REQUIRE(keep == 3);
  double kept_mass = 0.0;
  for (size_t i = 0; i < keep; ++i) kept_mass += p[i];

  constexpr int kDraws = 20000;
  std::vector<int> counts(logits.size(), 0);
  llm::Rng rng(2024);
  for (int i = 0; i < kDraws; ++i) {
    auto row = logits;
    const auto id = llm::sample_next(row, {}, params, rng);
    if (id < 0 || id >= 8) FAIL("sample_next returned id " << id << " outside [0, 8)");
    ++counts[static_cast<size_t>(id)];
  }
  double chi2 = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    const double expected = kDraws * p[i] / kept_mass;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  for (size_t i = keep; i < logits.size(); ++i) {
    CAPTURE(i);
    CHECK_MESSAGE(counts[i] == 0, "ids outside the top-k / top-p set have probability 0");
  }
  CAPTURE(counts[0]);
  CAPTURE(counts[1]);
  CAPTURE(counts[2]);
  CAPTURE(chi2);
  // 2 degrees of freedom: P(chi2 > 30) = exp(-15) ~ 3e-7 for a correct sampler, while a wrong order or a
  // missing renormalisation shifts a bin by hundreds of draws (chi2 in the hundreds). The seed is fixed,
  // so the value is deterministic; the wide bound means any correct sampler with this Rng passes.
  CHECK_MESSAGE(chi2 < 30.0,
                "frequencies must follow softmax(logits / T) restricted to the top-k then top-p set and renormalised");
}

// ================================================================================================
// Batched generation: padding, EOS, streaming
// ================================================================================================

TEST_CASE("step 7: a left-padded batch generates what each prompt generates alone") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor a = sample_ids(1, 6, cfg.vocab_size, 10);
  const IdTensor b = sample_ids(1, 3, cfg.vocab_size, 500);
  // Row 1 is b with 3 pad tokens (id 0) on the left.
  const IdTensor batch = llm::make_ids({row_tokens(a, 0), {0, 0, 0, b(0, 0), b(0, 1), b(0, 2)}});
  const IdTensor mask = llm::make_ids({{1, 1, 1, 1, 1, 1}, {0, 0, 0, 1, 1, 1}});
  const llm::GenerateOptions greedy{.max_new_tokens = 6, .temperature = 0.0f};

  const IdTensor alone_a = model.generate(a, greedy);
  const IdTensor alone_b = model.generate(b, greedy);
  llm::GenerateOptions padded = greedy;
  padded.attention_mask = &mask;
  const IdTensor together = model.generate(batch, padded);
  REQUIRE(together.shape() == Shape({2, 12}));
  CHECK_MESSAGE(row_tokens(together, 0, 6) == row_tokens(alone_a, 0, 6), "an unpadded row is unaffected by its neighbour");
  CHECK_MESSAGE(row_tokens(together, 1, 6) == row_tokens(alone_b, 0, 3),
                "a left-padded row must generate as if alone: pad keys masked for every step (the mask grows with "
                "the sequence) and positions counted from the first real token");

  padded.use_cache = false;
  const IdTensor uncached = model.generate(batch, padded);
  CHECK_MESSAGE(row_tokens(uncached, 0) == row_tokens(together, 0), "use_cache = false must give the same tokens");
  CHECK_MESSAGE(row_tokens(uncached, 1) == row_tokens(together, 1), "use_cache = false must give the same tokens");
}

TEST_CASE("step 7: padding tokens are not part of the repetition penalty history") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor b = sample_ids(1, 3, cfg.vocab_size, 500);
  const llm::GenerateOptions penalised{.max_new_tokens = 4, .temperature = 0.0f, .repetition_penalty = 5.0f};
  const IdTensor alone = model.generate(b, penalised);
  // Pad with the very token the row picks first: if the padding counted as history, the penalty would
  // push that token down and the row would start differently.
  const std::int32_t first = alone(0, 3);
  REQUIRE_MESSAGE(!contains(row_tokens(b, 0), first), "test setup: the first new token must not be in the prompt");
  const IdTensor batch = llm::make_ids({row_tokens(sample_ids(1, 5, cfg.vocab_size, 10), 0),
                                        {first, first, b(0, 0), b(0, 1), b(0, 2)}});
  const IdTensor mask = llm::make_ids({{1, 1, 1, 1, 1}, {0, 0, 1, 1, 1}});
  llm::GenerateOptions padded = penalised;
  padded.attention_mask = &mask;
  const IdTensor together = model.generate(batch, padded);
  CHECK_MESSAGE(row_tokens(together, 1, 5) == row_tokens(alone, 0, 3),
                "the penalty history is the row's real tokens: left padding (mask 0) is not generated text");
}

TEST_CASE("step 7: sampling with and without the cache gives the same tokens") {
  const ModelConfig cfg = ModelConfig::tiny();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(2, 5, cfg.vocab_size);
  const llm::GenerateOptions cached{.max_new_tokens = 10, .temperature = 1.0f, .top_k = 20, .seed = 77};
  llm::GenerateOptions uncached = cached;
  uncached.use_cache = false;
  const IdTensor x = model.generate(prompt, cached), y = model.generate(prompt, uncached);
  CHECK_MESSAGE(row_tokens(x, 0) == row_tokens(y, 0),
                "same logits and the same Rng draws (row 0 first) must give the same tokens with or without cache");
  CHECK_MESSAGE(row_tokens(x, 1) == row_tokens(y, 1),
                "same logits and the same Rng draws (row 0 first) must give the same tokens with or without cache");
}

TEST_CASE("step 7: a row that emits eos is padded while the other rows keep generating") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = llm::make_ids({row_tokens(sample_ids(1, 4, cfg.vocab_size, 3), 0),
                                         row_tokens(sample_ids(1, 4, cfg.vocab_size, 400), 0)});
  const IdTensor base = model.generate(prompt, {.max_new_tokens = 8, .temperature = 0.0f});
  REQUIRE(base.shape() == Shape({2, 12}));
  const Ids g0 = row_tokens(base, 0, 4), g1 = row_tokens(base, 1, 4);

  // eos = the first token row 0 produces at some step k >= 1 that it never produced before and that
  // row 1 never produces: row 0 finishes at step k, row 1 never does.
  int k = -1;
  for (int s = 1; s < 8 && k < 0; ++s)
    if (!contains(Ids(g0.begin(), g0.begin() + s), g0[static_cast<size_t>(s)]) && !contains(g1, g0[static_cast<size_t>(s)]))
      k = s;
  REQUIRE_MESSAGE(k > 0, "test setup: no usable eos token in the greedy run");
  const std::int32_t eos = g0[static_cast<size_t>(k)];
  const std::int32_t pad = eos == 7 ? 8 : 7;
  CAPTURE(k);
  CAPTURE(eos);

  const IdTensor seq = model.generate(prompt, {.max_new_tokens = 8, .temperature = 0.0f, .pad_token_id = pad,
                                               .eos_token_id = eos});
  REQUIRE_MESSAGE(seq.shape() == Shape({2, 12}), "row 1 never emits eos, so generation runs all 8 steps");
  const Ids r0 = row_tokens(seq, 0, 4), r1 = row_tokens(seq, 1, 4);
  for (int s = 0; s <= k; ++s) {
    CAPTURE(s);
    CHECK_MESSAGE(r0[static_cast<size_t>(s)] == g0[static_cast<size_t>(s)], "row 0 is unchanged up to and with its eos");
  }
  for (int s = k + 1; s < 8; ++s) {
    CAPTURE(s);
    CHECK_MESSAGE(r0[static_cast<size_t>(s)] == pad, "after eos a finished row gets pad_token_id at every step");
  }
  CHECK_MESSAGE(r1 == g1, "another row keeps generating after row 0 finished (eos is per row)");

  // Without pad_token_id the padding is eos itself.
  const IdTensor eos_pad = model.generate(prompt, {.max_new_tokens = 8, .temperature = 0.0f, .eos_token_id = eos});
  for (Index t = 4 + k + 1; t < 12; ++t) {
    CAPTURE(t);
    CHECK_MESSAGE(eos_pad(0, t) == eos, "pad_token_id defaults to eos_token_id");
  }
}

TEST_CASE("step 7: generation stops early only when every row has finished") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const Ids p = row_tokens(sample_ids(1, 4, cfg.vocab_size, 60), 0);
  const IdTensor alone = model.generate(llm::make_ids({p}), {.max_new_tokens = 10, .temperature = 0.0f});
  const Ids g = row_tokens(alone, 0, 4);
  // eos = the first new token at a step k >= 2 that did not appear before it in g.
  int k = -1;
  for (int s = 2; s < 10 && k < 0; ++s)
    if (!contains(Ids(g.begin(), g.begin() + s), g[static_cast<size_t>(s)])) k = s;
  REQUIRE_MESSAGE(k > 0, "test setup: no usable eos token in the greedy run");
  const std::int32_t eos = g[static_cast<size_t>(k)];
  CAPTURE(k);
  CAPTURE(eos);

  // One row: it finishes at step k, so the output is the prompt + k + 1 tokens, ending with eos.
  const IdTensor one = model.generate(llm::make_ids({p}), {.max_new_tokens = 10, .temperature = 0.0f, .eos_token_id = eos});
  CHECK_MESSAGE(one.size(1) == 4 + k + 1, "a single row that emits eos stops generation right after it");
  CHECK(one(0, one.size(1) - 1) == eos);

  // Two rows that finish at different steps: row 1 is row 0 one token ahead (row 0 is left-padded by
  // one column so both prompts have 5 columns). Row 1 emits eos at step k - 1, row 0 at step k.
  Ids ahead = p;
  ahead.push_back(g[0]);
  Ids behind = p;
  behind.insert(behind.begin(), 0);
  const IdTensor mask = llm::make_ids({{0, 1, 1, 1, 1}, {1, 1, 1, 1, 1}});
  const IdTensor both = model.generate(llm::make_ids({behind, ahead}), {.max_new_tokens = 10, .temperature = 0.0f,
                                                                         .pad_token_id = 5, .eos_token_id = eos,
                                                                         .attention_mask = &mask});
  CHECK_MESSAGE(both.size(1) == 5 + k + 1,
                "generation continues while any row is unfinished and stops at the step the last row finishes");
  if (both.size(1) == 5 + k + 1) {
    CHECK(both(0, 5 + k) == eos);
    CHECK_MESSAGE(both(1, 5 + k) == 5, "row 1 finished one step earlier: its last column is padding");
  }
}

TEST_CASE("step 7: on_step reports every step's tokens one per row") {
  const ModelConfig cfg = ModelConfig::tiny();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(2, 3, cfg.vocab_size);
  std::vector<Ids> steps;
  const IdTensor seq = model.generate(prompt, {.max_new_tokens = 6, .temperature = 0.0f,
                                               .on_step = [&](std::span<const std::int32_t> chosen) {
                                                 steps.emplace_back(chosen.begin(), chosen.end());
                                               }});
  REQUIRE_MESSAGE(steps.size() == 6u, "on_step is called once per generated step");
  for (Index s = 0; s < 6; ++s) {
    CAPTURE(s);
    REQUIRE_MESSAGE(steps[static_cast<size_t>(s)].size() == 2u, "on_step gets one token per row");
    CHECK(steps[static_cast<size_t>(s)][0] == seq(0, 3 + s));
    CHECK(steps[static_cast<size_t>(s)][1] == seq(1, 3 + s));
  }
}

// ================================================================================================
// Invalid inputs
// ================================================================================================

TEST_CASE("step 13: invalid sampling values raise InvalidArgument naming the value") {
  const ModelConfig cfg = ModelConfig::tiny();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 3, cfg.vocab_size);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const struct {
    llm::SamplingParams params;
    const char* value;
  } cases[] = {
      {{.top_p = 0.0f}, "0"},
      {{.top_p = 1.5f}, "1.5"},
      {{.repetition_penalty = 0.0f}, "0"},
      {{.repetition_penalty = -1.0f}, "-1"},
      {{.temperature = nan}, "nan"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.value);
    CHECK_THROWS_AS_MESSAGE(llm::validate(c.params), InvalidArgument,
                            "validate must reject top_p outside (0, 1], penalty <= 0 and a NaN temperature");
    const std::string msg = error_message<InvalidArgument>([&] {
      model.generate(prompt, {.max_new_tokens = 2, .temperature = c.params.temperature, .top_p = c.params.top_p,
                              .repetition_penalty = c.params.repetition_penalty});
    });
    CAPTURE(msg);
    CHECK_MESSAGE(msg.find(c.value) != std::string::npos, "the error message must name the offending value");
    std::vector<float> row = {1.0f, 2.0f};
    llm::Rng rng(0);
    CHECK_THROWS_AS_MESSAGE(llm::sample_next(row, {}, c.params, rng), InvalidArgument,
                            "sample_next validates its parameters first");
  }
  // A temperature of 0 or below is not invalid: it means greedy.
  CHECK_NOTHROW(llm::validate({.temperature = 0.0f}));
  CHECK_NOTHROW(llm::validate({.temperature = -1.0f}));
}

TEST_CASE("step 4: invalid forward inputs raise InvalidArgument naming the value") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  for (std::int32_t bad : {1000, 5000, -1}) {
    CAPTURE(bad);
    const IdTensor ids = llm::make_ids({{1, bad, 2}});
    const std::string msg = error_message<InvalidArgument>([&] { model.forward(ids); });
    CAPTURE(msg);
    CHECK_MESSAGE(msg.find(std::to_string(bad)) != std::string::npos,
                  "forward must run check_forward_inputs first: a token id outside [0, vocab) is named in the error");
  }
  ModelConfig three = cfg;
  three.num_hidden_layers = 3;
  const auto foreign = std::make_shared<llm::KVCache>(three, 1, 16);
  const std::string msg = error_message<InvalidArgument>(
      [&] { model.forward(llm::make_ids({{1, 2}}), {.past_key_values = foreign, .use_cache = true}); });
  CAPTURE(msg);
  CHECK_MESSAGE(msg.find('3') != std::string::npos,
                "a cache from another model (3 layers for a 2-layer model) must be refused, naming its layer count");
  CHECK_MESSAGE(foreign->seq_length() == 0, "a refused cache must not be written to");
}

TEST_CASE("step 7: invalid generate lengths raise InvalidArgument naming the value") {
  const ModelConfig cfg = ModelConfig::lesson();  // max_position_embeddings 256
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 5, cfg.vocab_size);
  std::string msg = error_message<InvalidArgument>([&] { model.generate(prompt, {.max_new_tokens = -1}); });
  CAPTURE(msg);
  CHECK_MESSAGE(msg.find("-1") != std::string::npos, "max_new_tokens = -1 must be refused and named");
  msg = error_message<InvalidArgument>(
      [&] { model.generate(prompt, {.max_new_tokens = 252, .temperature = 0.0f}); });
  CHECK_MESSAGE(msg.find("257") != std::string::npos,
                "prompt 5 + max_new_tokens 252 = 257 > max_position_embeddings 256 must be refused, naming the total");
  const IdTensor ok = model.generate(prompt, {.max_new_tokens = 2, .temperature = 0.0f});
  CHECK_MESSAGE(ok.size(1) == 7, "a valid request still works after refused ones");
}

// ================================================================================================
// stories260K: the real model against llama2.c's greedy reference output
// ================================================================================================

TEST_CASE("stories260K: greedy from Once upon a time reproduces llama2.c with and without the cache" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const llm::Checkpoint ckpt = llm::load_checkpoint(files->checkpoint);
  const llm::Tokenizer tok = llm::Tokenizer::load(files->tokenizer, ckpt.config.vocab_size);
  const CausalLM model = CausalLM::from_checkpoint(ckpt);
  const Ids prompt = tok.encode("Once upon a time", /*bos=*/true);
  REQUIRE(prompt == Ids({1, 403, 407, 261, 378}));

  // llama2.c's run.c -n 64 with this prompt: 64 forward positions, 60 new tokens; it stops at BOS (id 1).
  llm::GenerateOptions options{.max_new_tokens = 60, .temperature = 0.0f, .eos_token_id = llm::Tokenizer::kBos};
  const IdTensor cached = model.generate(llm::make_ids({prompt}), options);
  const std::string expected =
      llm::testing::read_file(files->directory / "expected_prompt_once_upon_a_time_t0_n64.txt");
  CHECK_MESSAGE(tok.decode(row_tokens(cached, 0)) == expected,
                "greedy decoding of stories260K must match llama2.c: RoPE on adjacent pairs, GQA head h -> h / 2, "
                "positions from the cache length");

  // Without the cache. Recomputing the sequence every step is quadratic: the full 60 steps take ~3.5 s
  // in a Debug build, so the uncached run covers the first 20 (greedy is prefix-stable: its first 20
  // tokens are the cached run's first 20), and one uncached forward over all 65 tokens checks that
  // every cached choice is the argmax of the full-sequence logits (teacher forcing).
  options.use_cache = false;
  options.max_new_tokens = 20;
  const IdTensor uncached = model.generate(llm::make_ids({prompt}), options);
  REQUIRE(cached.size(1) >= 25);
  CHECK_MESSAGE(row_tokens(uncached, 0) == row_tokens(columns(cached, 0, 25), 0),
                "use_cache = false must give the same tokens: the KV cache must not change a single token");
  const Tensor logits = model.forward(cached).logits;
  for (Index t = 5; t < cached.size(1); ++t) {
    CAPTURE(t);
    const auto row = logits.row(0, t - 1);
    CHECK_MESSAGE(cached(0, t) == static_cast<std::int32_t>(llm::argmax(row)),
                  "each cached greedy token must be the argmax of the uncached full-sequence logits");
  }
}

TEST_CASE("stories260K: greedy from BOS for 200 tokens reproduces llama2.c byte for byte" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const llm::Checkpoint ckpt = llm::load_checkpoint(files->checkpoint);
  const llm::Tokenizer tok = llm::Tokenizer::load(files->tokenizer, ckpt.config.vocab_size);
  const CausalLM model = CausalLM::from_checkpoint(ckpt);
  const IdTensor seq = model.generate(llm::make_ids({{llm::Tokenizer::kBos}}),
                                      {.max_new_tokens = 200, .temperature = 0.0f, .eos_token_id = llm::Tokenizer::kBos});
  CHECK_MESSAGE(seq.size(1) == 201, "BOS + 200 greedy tokens (the story does not reach the next BOS)");
  const std::string expected = llm::testing::read_file(files->directory / "expected_greedy_t0_n200.txt");
  CHECK_MESSAGE(tok.decode(row_tokens(seq, 0)) == expected,
                "200 greedy tokens from BOS must reproduce llama2.c's reference output byte for byte");
}
