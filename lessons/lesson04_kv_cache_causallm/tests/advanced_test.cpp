// advanced_test.cpp — lesson 04's advanced suite, in the order of the steps: the course's advanced
// cases (sampling settings, per-layer cache, multi-step decoding, prepare_inputs_for_generation, seeds,
// a long run) and the properties the course never checked: cached == uncached at every position,
// causality, positions that continue from the cache, GQA == repeated-head attention, the loss against
// a double-precision reference, the sampler's filters against their definitions and its frequencies,
// generate() against a decode loop written out here (one Rng stream, padding, eos, the penalty history),
// invalid inputs, and the real stories260K model against llama2.c's reference output.
// A case needs only its own step and the ones before it; exercise 2 (the sampler) needs no model.
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
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "causal_lm.h"
#include "lesson04_support.h"
#include "llm/checkpoint.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "llm/ops.h"
#include "llm/rng.h"
#include "llm/tensor.h"
#include "sampler.h"
#include "test_support.h"
#include "tokenizer.h"

using llm::CausalLM;
using llm::IdTensor;
using llm::Index;
using llm::InvalidArgument;
using llm::ModelConfig;
using llm::Shape;
using llm::Tensor;

namespace {

using lesson04_test::columns;
using lesson04_test::contains;
using lesson04_test::greedy_by_hand;
using lesson04_test::Ids;
using lesson04_test::kept_ids;
using lesson04_test::row_tokens;
using lesson04_test::varied_config;
using llm::testing::error_message;
using llm::testing::max_diff;
using llm::testing::sample_ids;
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

// -log softmax(row)[label] in double, straight from the definition (for the loss cases).
double nll(std::span<const float> row, std::int32_t label) {
  const double m = *std::max_element(row.begin(), row.end());
  double sum = 0.0;
  for (float x : row) sum += std::exp(static_cast<double>(x) - m);
  return std::log(sum) + m - static_cast<double>(row[static_cast<size_t>(label)]);
}

// generate() written out, for the step-13 cases: prefill the prompt into a cache, then feed the B tokens
// just chosen as (B, 1) ids at each row's next position (the padding mask one column longer). Rows pick
// in order 0, 1, ... from one Rng(seed) with sample_next (exercise 2); a row that picked eos is finished
// and gets pad without drawing; the penalty history is the row's real tokens so far. Returns the new
// tokens of each row (generation stops when every row has finished).
std::vector<Ids> generate_by_hand(const CausalLM& model, const IdTensor& prompt, const llm::GenerateOptions& o) {
  const Index B = prompt.size(0), N = prompt.size(1);
  const std::int32_t eos = o.eos_token_id.value_or(-1);
  const std::int32_t pad = o.pad_token_id.value_or(o.eos_token_id.value_or(0));
  llm::Rng rng(o.seed);
  std::vector<Ids> history(static_cast<size_t>(B)), out(static_cast<size_t>(B));
  std::vector<std::int32_t> next_pos(static_cast<size_t>(B), 0);
  std::vector<bool> finished(static_cast<size_t>(B), false);
  std::optional<IdTensor> mask;
  if (o.attention_mask) mask = *o.attention_mask;
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < N; ++t)
      if (!mask || (*mask)(b, t) == 1) {
        history[static_cast<size_t>(b)].push_back(prompt(b, t));
        ++next_pos[static_cast<size_t>(b)];
      }
  auto res = model.forward(prompt, {.attention_mask = o.attention_mask,
                                    .past_key_values = std::make_shared<llm::KVCache>(model.config(), B, N + o.max_new_tokens),
                                    .use_cache = true});
  for (int step = 0; step < o.max_new_tokens; ++step) {
    IdTensor next(Shape{B, 1}), pos(Shape{B, 1});
    for (Index b = 0; b < B; ++b) {
      const size_t r = static_cast<size_t>(b);
      std::int32_t id = pad;
      if (!finished[r]) {
        const auto last = res.logits.row(b, res.logits.size(1) - 1);
        std::vector<float> row(last.begin(), last.end());
        id = llm::sample_next(row, history[r], o.sampling, rng);
        history[r].push_back(id);
        finished[r] = id == eos;
      }
      out[r].push_back(id);
      next(b, 0) = id;
      pos(b, 0) = next_pos[r]++;
    }
    if (std::all_of(finished.begin(), finished.end(), [](bool f) { return f; })) break;
    if (mask) {
      IdTensor longer(Shape{B, mask->size(1) + 1}, 1);
      for (Index b = 0; b < B; ++b)
        for (Index t = 0; t < mask->size(1); ++t) longer(b, t) = (*mask)(b, t);
      mask = longer;
    }
    res = model.forward(next, {.attention_mask = mask ? &*mask : nullptr, .position_ids = &pos,
                               .past_key_values = res.past_key_values, .use_cache = true});
  }
  return out;
}

// generate() with an InvalidArgument about the cache turned into the concept it means.
IdTensor generate_feeding_new_tokens(const CausalLM& model, const IdTensor& prompt, const llm::GenerateOptions& o) {
  try {
    return model.generate(prompt, o);
  } catch (const InvalidArgument& e) {
    const std::string what = e.what();
    if (what.find("cache") == std::string::npos) throw;
    FAIL("each decode step feeds only the tokens not yet in the cache — (B, 1) new ids — into a cache of prompt "
         "+ max_new_tokens positions; feeding the sequence again overflows it: "
         << what);
  }
  return {};
}

}  // namespace

// ================================================================================================
// Exercise 1: the model
// ================================================================================================

TEST_CASE("step 1: an invalid config is refused before anything is built") {
  ModelConfig cfg = ModelConfig::lesson();
  cfg.num_key_value_heads = 3;  // 4 query heads cannot share 3 KV heads
  const std::string msg = error_message<InvalidArgument>([&] { CausalLM model(cfg, kSeed); });
  CHECK_MESSAGE(llm::testing::contains(msg, "3"),
                "the constructor validates the config first (config.validate()), naming the bad value");
}

TEST_CASE("step 1: the same seed gives the same weights and another seed other weights") {
  const ModelConfig cfg = ModelConfig::tiny();
  const CausalLM a(cfg, 5), b(cfg, 5), c(cfg, 6);
  REQUIRE(a.embed_tokens.weight != nullptr);
  REQUIRE(c.embed_tokens.weight != nullptr);
  CHECK_MESSAGE(max_diff(*a.embed_tokens.weight, *b.embed_tokens.weight) == 0.0f,
                "all weights come from Rng(seed): one seed, one model");
  CHECK_MESSAGE(max_diff(*a.embed_tokens.weight, *c.embed_tokens.weight) > 0.0f, "the seed must reach the Rng");
}

TEST_CASE("step 2: positions of a padded prefill and three decode steps count each row's real tokens") {
  // Row 0: 2 pads then 3 tokens; row 1: 5 tokens. Then 3 generated tokens, real in both rows.
  IdTensor mask = llm::make_ids({{0, 0, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1}});
  const IdTensor prefill = llm::default_position_ids(&mask, 2, 0, 5);
  CHECK_MESSAGE(row_tokens(prefill, 0) == Ids({0, 0, 0, 1, 2}), "padding is clamped to 0, real tokens count from 0");
  Ids row0, row1;
  for (Index step = 0; step < 3; ++step) {
    const IdTensor pos = llm::default_position_ids(&mask, 2, 5 + step, 1);
    REQUIRE_MESSAGE(pos.shape() == Shape({2, 1}), "one new token per row: (B, 1)");
    row0.push_back(pos(0, 0));
    row1.push_back(pos(1, 0));
  }
  CHECK_MESSAGE(row0 == Ids({3, 4, 5}), "a padded row continues from its count of real tokens (3), not from P (5)");
  CHECK_MESSAGE(row1 == Ids({5, 6, 7}), "an unpadded row continues from the cache length");
}

TEST_CASE("step 3: a padded row's new tokens never see a padding key at any cache length") {
  const IdTensor mask = llm::make_ids({{0, 1, 0, 1, 1, 1}});  // a hole at column 2 as well
  for (Index P = 0; P < 6; ++P) {
    CAPTURE(P);
    const Tensor m = llm::build_causal_mask(&mask, 1, P, 6 - P);
    REQUIRE(m.shape() == Shape({1, 6 - P, 6}));
    for (Index t = 0; t < 6 - P; ++t)
      for (Index j = 0; j < 6; ++j) {
        const bool visible = j <= P + t && mask(0, j) == 1;
        CAPTURE(t);
        CAPTURE(j);
        REQUIRE_MESSAGE(m(0, t, j) == (visible ? 0.0f : -kInf),
                        "key j is visible iff j <= P + t and attention_mask[b][j] == 1, whatever P is");
      }
  }
}

TEST_CASE("step 4: a 4-layer model keeps one cache entry per layer") {
  ModelConfig cfg = ModelConfig::lesson();
  cfg.num_hidden_layers = 4;
  const CausalLM model(cfg, kSeed);
  const auto out = model.forward(sample_ids(1, 6, cfg.vocab_size), {.use_cache = true});
  REQUIRE(out.past_key_values != nullptr);
  REQUIRE_MESSAGE(out.past_key_values->num_layers() == 4, "one cache entry per decoder layer");
  std::vector<Index> lengths;
  for (Index l = 0; l < 4; ++l) lengths.push_back(out.past_key_values->layer(l).length());
  CHECK_MESSAGE(lengths == std::vector<Index>(4, 6),
                "layer l must append to its own entry cache->layer(l): each holds the 6 positions once");
  for (Index l = 0; l + 1 < 4; ++l) {
    CAPTURE(l);
    REQUIRE_MESSAGE(max_diff(out.past_key_values->layer(l).key_states(),
                             out.past_key_values->layer(l + 1).key_states()) > 0.0f,
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
    REQUIRE_MESSAGE(out.logits.shape() == Shape({1, 1, cfg.vocab_size}), "one token in, one row of logits out");
    REQUIRE_MESSAGE(cache->seq_length() == 4 + step, "each decode step appends exactly one position to the cache");
  }
}

TEST_CASE("step 4: logits at positions 0 and 7 differ") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const Tensor logits = model.forward(sample_ids(1, 8, cfg.vocab_size)).logits;
  CHECK_MESSAGE(max_diff(tokens(logits, 0, 1), tokens(logits, 7, 8)) > 1e-3f,
                "each position gets its own prediction: rows 0 and 7 must not be copies");
}

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
    REQUIRE_MESSAGE(max_diff(out.logits, tokens(full, t, t + 1)) <= kTol,
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
    REQUIRE_MESSAGE(max_diff(out.logits, tokens(full, from, to)) <= kTol,
                    "a chunk of several new tokens after a cache needs the causal mask aligned bottom-right "
                    "(token t sees keys <= P + t) and positions P..P+T-1");
  }
  CHECK(cache->seq_length() == 8);
}

TEST_CASE("step 4: changing a future token leaves every earlier position unchanged") {
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

TEST_CASE("step 4: a decode step takes the cache length as its default position") {
  ModelConfig cfg = ModelConfig::lesson();
  cfg.initializer_range = 0.1f;  // sharper attention, so that RoPE positions matter clearly in the logits
  const CausalLM model(cfg, kSeed);
  const IdTensor ids = sample_ids(1, 7, cfg.vocab_size);
  const Tensor row6 = tokens(model.forward(ids).logits, 6, 7);
  const IdTensor last = columns(ids, 6, 7);

  const auto prefill = model.forward(columns(ids, 0, 6), {.use_cache = true});
  REQUIRE(prefill.past_key_values != nullptr);
  const auto step = model.forward(last, {.past_key_values = prefill.past_key_values, .use_cache = true});
  CHECK_MESSAGE(max_diff(step.logits, row6) <= kTol,
                "the default position of a decode step is the cache length (6), read before the layers append");

  // The same step with its position forced to 0: what a model that restarts positions computes.
  const auto again = model.forward(columns(ids, 0, 6), {.use_cache = true});
  const IdTensor zero = llm::make_ids({{0}});
  const auto restarted =
      model.forward(last, {.position_ids = &zero, .past_key_values = again.past_key_values, .use_cache = true});
  CHECK_MESSAGE(max_diff(restarted.logits, row6) > 100 * kTol,
                "given position_ids are used as they are: position 0 for the 7th token gives other logits");
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
  const auto step = gqa.forward(columns(ids, 5, 6), {.past_key_values = pre.past_key_values, .use_cache = true});
  CHECK_MESSAGE(max_diff(step.logits, tokens(g, 5, 6)) <= kTol, "GQA with the cache equals GQA without it");
}

TEST_CASE("step 4: left padding leaves a row's real logits unchanged") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor alone = sample_ids(1, 4, cfg.vocab_size, 9);
  const IdTensor padded = llm::make_ids({{0, 0, alone(0, 0), alone(0, 1), alone(0, 2), alone(0, 3)}});
  const IdTensor mask = llm::make_ids({{0, 0, 1, 1, 1, 1}});
  const Tensor a = model.forward(alone).logits;
  const Tensor b = model.forward(padded, {.attention_mask = &mask}).logits;
  CHECK_MESSAGE(max_diff(a, tokens(b, 2, 6)) <= kTol,
                "with the padding mask, pad keys are hidden and positions count real tokens: the real positions "
                "of a padded row give the unpadded row's logits");
}

TEST_CASE("step 4: invalid forward inputs raise InvalidArgument naming the value") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  for (std::int32_t bad : {1000, 5000, -1}) {
    CAPTURE(bad);
    const IdTensor ids = llm::make_ids({{1, bad, 2}});
    const std::string msg = error_message<InvalidArgument>([&] { model.forward(ids); });
    REQUIRE_MESSAGE(msg.find(std::to_string(bad)) != std::string::npos,
                    "forward must run check_forward_inputs first: a token id outside [0, vocab) is named in the error");
  }
  ModelConfig three = cfg;
  three.num_hidden_layers = 3;
  const auto foreign = std::make_shared<llm::KVCache>(three, 1, 16);
  const std::string msg = error_message<InvalidArgument>(
      [&] { model.forward(llm::make_ids({{1, 2}}), {.past_key_values = foreign, .use_cache = true}); });
  CHECK_MESSAGE(llm::testing::contains(msg, "3"),
                "a cache from another model (3 layers for a 2-layer model) must be refused, naming its layer count");
  CHECK_MESSAGE(foreign->seq_length() == 0, "a refused cache must not be written to");
  const auto own = std::make_shared<llm::KVCache>(cfg, 1, 16);
  const std::string without = error_message<InvalidArgument>(
      [&] { model.forward(llm::make_ids({{1, 2}}), {.past_key_values = own}); });
  CHECK_MESSAGE(llm::testing::contains(without, "use_cache"),
                "a past_key_values with use_cache = false is refused: use_cache means the call works with a cache");
}

TEST_CASE("step 5: the loss is the mean NLL over labels that are not -100") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor ids = sample_ids(2, 6, cfg.vocab_size);
  // Already shifted: labels[b][t] is the target of logits[b][t]. Three positions are ignored.
  const IdTensor labels = llm::make_ids({{4, -100, 17, 999, 0, 250}, {-100, 3, 3, 42, 7, -100}});
  const auto out = model.forward(ids, {.labels = &labels});
  REQUIRE_MESSAGE(out.loss.has_value(), "labels given -> the output must carry a loss");
  double total = 0.0;
  int count = 0;
  for (Index b = 0; b < 2; ++b)
    for (Index t = 0; t < 6; ++t)
      if (labels(b, t) != -100) total += nll(out.logits.row(b, t), labels(b, t)), ++count;
  const double expected = total / count;
  CAPTURE(expected);
  CHECK_MESSAGE(*out.loss == doctest::Approx(expected).epsilon(1e-5),
                "loss = mean over labels != -100 of -log softmax(logits[b][t])[labels[b][t]]; labels are already "
                "shifted (no shift inside the model) and -100 positions count neither in the sum nor in the mean");
}

TEST_CASE("step 5: the loss on logits of plus or minus 1e4 equals a double-precision reference") {
  llm::Rng rng(17);
  Tensor logits(Shape{2, 3, 50});
  for (float& x : logits.flat()) x = (2.0f * rng.uniform() - 1.0f) * 1e4f;  // in [-1e4, 1e4]
  const IdTensor labels = llm::make_ids({{0, 7, 49}, {13, -100, 21}});
  double total = 0.0;
  for (Index b = 0; b < 2; ++b)
    for (Index t = 0; t < 3; ++t)
      if (labels(b, t) != -100) total += nll(logits.row(b, t), labels(b, t));
  const float loss = llm::cross_entropy(logits, labels);
  CHECK_MESSAGE(std::isfinite(loss), "exp(1e4) overflows: subtract the row max before exp (log-sum-exp)");
  CHECK_MESSAGE(loss == doctest::Approx(total / 5).epsilon(1e-5),
                "the stable form log(sum exp(x - m)) + m - x_label is exact, not an approximation");
}

TEST_CASE("step 5: the loss is a mean whatever the number of positions") {
  // The same row of logits at 1 and at 3 labelled positions: the mean is the same, a sum would triple.
  const Tensor one(Shape{1, 1, 3}, {1.0f, 2.0f, 3.0f});
  const Tensor three(Shape{1, 3, 3}, {1.0f, 2.0f, 3.0f, 1.0f, 2.0f, 3.0f, 1.0f, 2.0f, 3.0f});
  const float a = llm::cross_entropy(one, llm::make_ids({{1}}));
  const float b = llm::cross_entropy(three, llm::make_ids({{1, 1, 1}}));
  CHECK_MESSAGE(b == doctest::Approx(a).epsilon(1e-6), "the loss is the mean over the counted positions, not the sum");
}

TEST_CASE("step 5: cross_entropy refuses mismatched shapes bad labels and all-ignored labels") {
  const Tensor logits(Shape{1, 2, 3}, 0.0f);
  const std::string shape = error_message<llm::ShapeError>([&] { llm::cross_entropy(logits, llm::make_ids({{1, 2, 0}})); });
  CHECK_MESSAGE(llm::testing::contains(shape, "(1, 3)"), "labels (1, 3) for logits (1, 2, 3): ShapeError naming both");
  const std::string label = error_message<InvalidArgument>([&] { llm::cross_entropy(logits, llm::make_ids({{1, 3}})); });
  CHECK_MESSAGE(llm::testing::contains(label, "3"), "label 3 with V = 3 is out of range: InvalidArgument naming it");
  const std::string none =
      error_message<InvalidArgument>([&] { llm::cross_entropy(logits, llm::make_ids({{-100, -100}})); });
  CHECK_MESSAGE(llm::testing::contains(none, "-100"),
                "every label ignored: there is nothing to average — refuse it instead of returning NaN (0 / 0)");
}

// ================================================================================================
// Exercise 2: the sampler against its definitions (no model needed)
// ================================================================================================

TEST_CASE("step 6: the penalty divides positives and multiplies negatives once per distinct token") {
  std::vector<float> row = {4.0f, -4.0f, 3.0f, 0.0f};
  llm::apply_repetition_penalty(row, Ids{0, 0, 0, 1, 1, 1, 1, 3}, 2.0f);
  CHECK_MESSAGE(row[0] == doctest::Approx(2.0f), "a positive logit is divided once however often it repeats: 4 / 2");
  CHECK_MESSAGE(row[1] == doctest::Approx(-8.0f),
                "a negative logit is multiplied (dividing would raise it) once however often it repeats: -4 * 2");
  CHECK_MESSAGE(row[2] == 3.0f, "an unseen token keeps its logit");
  CHECK_MESSAGE(row[3] == 0.0f, "a zero logit stays zero");
  std::vector<float> boost = {4.0f, -4.0f};
  llm::apply_repetition_penalty(boost, Ids{0, 1}, 0.5f);
  CHECK_MESSAGE(boost == std::vector<float>({8.0f, -2.0f}), "a penalty below 1 makes seen tokens more likely");
}

TEST_CASE("step 7: a temperature of 1e-30 keeps the logits finite and the argmax unique") {
  // 1e9 / 1e-30 overflows float: the result must stay finite so the softmax never computes inf - inf.
  std::vector<float> big = {1e9f, 5.0f, -1e9f, -kInf};
  llm::apply_temperature(big, 1e-30f);
  CHECK_MESSAGE(llm::testing::all_finite(std::span<const float>(big.data(), 3)),
                "apply_temperature must keep the results finite (clamp to the float range)");
  CHECK_MESSAGE(big[3] == -kInf, "a filtered logit stays -inf");
  CHECK_MESSAGE((big[0] > big[1] && big[0] > big[2]), "the largest logit stays the unique largest");
  // Here *every* logit overflows when divided: they must not all tie at the largest float.
  std::vector<float> all_big = {1e9f, 3e9f, 2e9f};
  llm::apply_temperature(all_big, 1e-30f);
  CHECK_MESSAGE((all_big[1] > all_big[0] && all_big[1] > all_big[2]),
                "when x / T overflows subtract the row max first: the argmax must stay the unique winner");
  std::vector<float> denormal = {1.0f, 3.0f, 2.0f};
  llm::apply_temperature(denormal, 1e-40f);
  CHECK_MESSAGE((llm::testing::all_finite(denormal) && denormal[1] > denormal[0] && denormal[1] > denormal[2]),
                "a temperature of 1e-40 (a denormal) must still keep the values finite and the argmax unique");
}

TEST_CASE("step 7: apply_temperature refuses zero negative NaN and infinite temperatures") {
  for (const float t : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), kInf}) {
    CAPTURE(t);
    std::vector<float> row = {1.0f, 2.0f};
    const std::string msg = error_message<InvalidArgument>([&] { llm::apply_temperature(row, t); });
    REQUIRE_MESSAGE(llm::testing::contains(msg, "temperature"),
                    "only a finite temperature > 0 divides; greedy (<= 0) never calls apply_temperature");
    REQUIRE_MESSAGE(row == std::vector<float>({1.0f, 2.0f}), "a refused call leaves the row unchanged");
  }
}

TEST_CASE("step 8: top-k equals its definition on a row with many ties") {
  // 40 logits from 5 values: every k cuts through a group of equal logits.
  std::vector<float> base(40);
  for (size_t i = 0; i < base.size(); ++i) base[i] = static_cast<float>((i * 7) % 5);
  for (int k : {1, 3, 8, 9, 17, 39}) {
    CAPTURE(k);
    std::vector<std::int32_t> order(base.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
      return base[static_cast<size_t>(a)] > base[static_cast<size_t>(b)];
    });
    Ids expected(order.begin(), order.begin() + k);
    std::sort(expected.begin(), expected.end());
    auto row = base;
    llm::apply_top_k(row, k);
    REQUIRE_MESSAGE(kept_ids(row) == expected,
                    "exactly k survive: the k largest, and among equal logits the lower ids first");
  }
}

TEST_CASE("step 9: top-p 0.75 on probabilities 0.5 0.25 0.125 0.125 keeps exactly 2") {
  const std::vector<float> base = {std::log(0.25f), std::log(0.125f), std::log(0.5f), std::log(0.125f)};
  auto row = base;
  llm::apply_top_p(row, 0.75f);
  CHECK_MESSAGE(kept_ids(row) == Ids({0, 2}),
                "0.5 + 0.25 reaches 0.75: the prefix that REACHES top_p is kept (>=), no more and no less");
}

TEST_CASE("step 9: top-p stops where the cumulative probability first equals top_p") {
  // Eight equal logits (and two filtered ones): probabilities exactly 1/8, binary fractions, so the
  // cumulative sums 1/8, 2/8, ... are exact in float and double and land exactly on these thresholds.
  for (const auto& [p, n] : {std::pair{0.125f, size_t{1}}, std::pair{0.375f, size_t{3}}, std::pair{0.875f, size_t{7}}}) {
    CAPTURE(p);
    std::vector<float> row = {0.0f, 0.0f, -kInf, 0.0f, 0.0f, 0.0f, 0.0f, -kInf, 0.0f, 0.0f};
    llm::apply_top_p(row, p);
    REQUIRE_MESSAGE(kept_ids(row).size() == n,
                    "the prefix ends at the first token whose cumulative probability is >= top_p: a sum equal to "
                    "top_p is enough");
  }
}

TEST_CASE("step 9: top-p applies to the distribution renormalised after top-k") {
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
}

TEST_CASE("step 9: top-p sums its probabilities in double") {
  // 100,000 equal logits: each probability is 1e-5, and top_p = 0.3f (0.30000001192...) is first
  // reached by token 30,001. Summed in float, 30,000 additions of 1e-5 drift by more than 1e-5 and the
  // prefix stops several tokens early or late.
  std::vector<float> row(100000, 0.0f);
  llm::apply_top_p(row, 0.3f);
  const auto expected = static_cast<size_t>(std::ceil(static_cast<double>(0.3f) * 100000.0));
  CHECK_MESSAGE(kept_ids(row).size() == expected,
                "the probabilities and their running sum are computed in double (sampler.h): a float sum over a "
                "large vocabulary misses the line by several tokens");
}

TEST_CASE("step 9: top-p refuses a row with NaN plus infinity or nothing left") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const std::vector<float>& bad : {std::vector<float>{0.0f, nan}, std::vector<float>{0.0f, kInf},
                                        std::vector<float>{-kInf, -kInf}}) {
    std::vector<float> row = bad;
    CAPTURE(row);
    const std::string msg = error_message<InvalidArgument>([&] { llm::apply_top_p(row, 0.5f); });
    REQUIRE_MESSAGE(!msg.empty(), "NaN, +inf or a row of -inf has no distribution: InvalidArgument");
  }
}

TEST_CASE("step 10a: greedy refuses a row with NaN plus infinity or nothing left") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const std::vector<float>& bad : {std::vector<float>{0.0f, nan}, std::vector<float>{0.0f, kInf},
                                        std::vector<float>{-kInf, -kInf}, std::vector<float>{}}) {
    CAPTURE(bad);
    const std::string msg = error_message<InvalidArgument>([&] { llm::select_greedy(bad); });
    REQUIRE_MESSAGE(!msg.empty(),
                    "a row of -inf has no token to choose (as in select_categorical): refuse it, and NaN, +inf or "
                    "an empty row too, instead of returning id 0");
  }
}

TEST_CASE("step 10b: the categorical draw follows the probabilities over a grid of u") {
  // Probabilities 0.1 0.2 0.3 0.4 from logits ln p. u = (i + 0.5) / 1000 for i < 1000 lands in id k
  // exactly p_k * 1000 times (the CDF boundaries 0.1 0.3 0.6 fall between grid points).
  const std::vector<float> row = {std::log(0.1f), std::log(0.2f), std::log(0.3f), std::log(0.4f)};
  std::vector<int> counts(4, 0);
  for (int i = 0; i < 1000; ++i) {
    const std::int32_t id = llm::select_categorical(row, (static_cast<float>(i) + 0.5f) / 1000.0f);
    REQUIRE_MESSAGE((id >= 0 && id < 4), "the draw returns an id of the row");
    ++counts[static_cast<size_t>(id)];
  }
  CHECK_MESSAGE(counts == std::vector<int>({100, 200, 300, 400}),
                "inverse CDF: id k covers u in [cdf(k-1), cdf(k)), a width of its probability");
  // Exactly on a boundary: two equal logits give the CDF 0.5, 1; u = 0.5 is not below 0.5, so id 1.
  CHECK_MESSAGE(llm::select_categorical(std::vector<float>{0.0f, 0.0f}, 0.5f) == 1,
                "the draw is the first id whose cumulative probability EXCEEDS u: u = 0.5 on {0.5, 0.5} is id 1");
}

TEST_CASE("step 10b: the categorical draw refuses u outside 0 to 1 and NaN logits") {
  const std::vector<float> row = {0.0f, 1.0f};
  for (const float u : {-0.1f, 1.0f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
    CAPTURE(u);
    const std::string msg = error_message<InvalidArgument>([&] { llm::select_categorical(row, u); });
    REQUIRE_MESSAGE(!msg.empty(), "u must be in [0, 1): anything else is InvalidArgument naming u");
  }
  const std::string nan_msg = error_message<InvalidArgument>(
      [&] { llm::select_categorical(std::vector<float>{0.0f, std::numeric_limits<float>::quiet_NaN()}, 0.5f); });
  CHECK_MESSAGE(llm::testing::contains(nan_msg, "1"), "a NaN logit is refused, naming its index");
}

TEST_CASE("step 11a: invalid sampling values raise InvalidArgument naming the value and the limit") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const struct {
    llm::SamplingParams params;
    const char* value;
  } cases[] = {
      {{.top_p = 0.0f}, "0"},
      {{.top_p = 1.5f}, "1.5"},
      {{.top_p = nan}, "nan"},
      {{.repetition_penalty = 0.0f}, "0"},
      {{.repetition_penalty = -1.0f}, "-1"},
      {{.repetition_penalty = 1e-4f}, "0.001"},  // below kMinRepetitionPenalty: the limit is named
      {{.repetition_penalty = 1e4f}, "1000"},    // above kMaxRepetitionPenalty
      {{.repetition_penalty = nan}, "nan"},
      {{.temperature = nan}, "nan"},
      {{.temperature = kInf}, "inf"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.value);
    const std::string msg = error_message<InvalidArgument>([&] { llm::validate(c.params); });
    CAPTURE(msg);
    REQUIRE_MESSAGE(llm::testing::contains(msg, c.value),
                    "validate must reject top_p outside (0, 1], a penalty outside [1e-3, 1e3] and a NaN or infinite "
                    "temperature, naming the value or the limit");
  }
  CHECK_NOTHROW_MESSAGE(llm::validate({.temperature = -1.0f}), "a temperature below 0 is not invalid: it means greedy");
  CHECK_NOTHROW_MESSAGE(llm::validate({.repetition_penalty = llm::kMaxRepetitionPenalty}), "the limits are inclusive");
}

TEST_CASE("step 11b: sample_next validates its parameters first") {
  std::vector<float> row = {1.0f, 2.0f};
  llm::Rng rng(0);
  const std::string msg = error_message<InvalidArgument>([&] { llm::sample_next(row, {}, {.top_p = 1.5f}, rng); });
  CHECK_MESSAGE(llm::testing::contains(msg, "1.5"), "sample_next calls validate before anything else");
}

TEST_CASE("step 11b: greedy sample_next leaves the random stream untouched") {
  llm::Rng rng(12), untouched(12);
  for (const float t : {0.0f, -2.0f}) {
    CAPTURE(t);
    std::vector<float> row = {1.0f, 0.0f, 4.0f};
    REQUIRE(llm::sample_next(row, {}, {.temperature = t}, rng) == 2);
  }
  CHECK_MESSAGE(rng.next_u64() == untouched.next_u64(),
                "temperature <= 0 returns the argmax before any rng.uniform(): in generate, a greedy row must not "
                "shift the draws of the rows after it");
}

TEST_CASE("step 11b: temperature comes before top-p in the chain") {
  // The example of README 1.6: logits {2, 1, 0}, temperature 0.5, top_p 0.7. Tempered first: softmax
  // {4, 2, 0} = {0.867, 0.117, 0.016}, so top-p keeps token 0 alone; filtering first would keep two.
  llm::Rng rng(99);
  std::vector<std::int32_t> drawn;
  for (int i = 0; i < 200; ++i) {
    std::vector<float> row = {2.0f, 1.0f, 0.0f};
    drawn.push_back(llm::sample_next(row, {}, {.temperature = 0.5f, .top_k = 0, .top_p = 0.7f}, rng));
  }
  CHECK_MESSAGE(drawn == std::vector<std::int32_t>(200, 0),
                "penalty -> temperature -> top-k -> top-p -> draw: with the temperature first only token 0 survives");
}

TEST_CASE("step 11b: the chain never draws a filtered token") {
  llm::Rng rng(21);
  std::vector<std::int32_t> by_p, by_k_then_p;
  for (int i = 0; i < 200; ++i) {
    std::vector<float> row = {std::log(0.25f), std::log(0.125f), std::log(0.5f), std::log(0.125f)};
    by_p.push_back(llm::sample_next(row, {}, {.temperature = 1.0f, .top_k = 0, .top_p = 0.75f}, rng));
    std::vector<float> five = {std::log(0.4f), std::log(0.3f), std::log(0.1f), std::log(0.1f), std::log(0.1f)};
    by_k_then_p.push_back(llm::sample_next(five, {}, {.temperature = 1.0f, .top_k = 2, .top_p = 0.5f}, rng));
  }
  CHECK_MESSAGE(std::all_of(by_p.begin(), by_p.end(), [](std::int32_t id) { return id == 0 || id == 2; }),
                "top_p = 0.75 keeps ids 2 and 0: the two 0.125 tokens are never drawn");
  CHECK_MESSAGE(by_k_then_p == std::vector<std::int32_t>(200, 0), "top-k then top-p: only id 0 survives both");
}

TEST_CASE("step 11b: a temperature near 0 picks the argmax without NaN") {
  llm::Rng rng(8);
  std::vector<std::int32_t> drawn;
  for (int i = 0; i < 20; ++i) {
    std::vector<float> row = {1.0f, 3.0f, 2.0f, -1.0f};
    drawn.push_back(llm::sample_next(row, {}, {.temperature = 1e-30f, .top_k = 0}, rng));
    std::vector<float> huge = {5.0f, 1e9f, -1e9f};
    drawn.push_back(llm::sample_next(huge, {}, {.temperature = 1e-30f, .top_k = 0}, rng));
    std::vector<float> all_big = {1e9f, 3e9f, 2e9f};
    drawn.push_back(llm::sample_next(all_big, {}, {.temperature = 1e-30f, .top_k = 0}, rng));
  }
  CHECK_MESSAGE(drawn == std::vector<std::int32_t>(60, 1),
                "a temperature near 0 concentrates all probability on the argmax (and never yields inf - inf)");
}

TEST_CASE("step 11b: sampled frequencies match the filtered distribution under a chi-square bound") {
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
    REQUIRE_MESSAGE((id >= 0 && id < 8), "sample_next returned id " << id << " outside [0, 8)");
    ++counts[static_cast<size_t>(id)];
  }
  double chi2 = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    const double expected = kDraws * p[i] / kept_mass;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  CAPTURE(counts);
  CAPTURE(chi2);
  CHECK_MESSAGE(std::all_of(counts.begin() + 3, counts.end(), [](int c) { return c == 0; }),
                "ids outside the top-k / top-p set have probability 0");
  // 2 degrees of freedom: P(chi2 > 30) = exp(-15) ~ 3e-7 for a correct sampler, while a wrong order or a
  // missing renormalisation shifts a bin by hundreds of draws (chi2 in the hundreds). The seed is fixed,
  // so the value is deterministic; the wide bound means any correct sampler with this Rng passes.
  CHECK_MESSAGE(chi2 < 30.0,
                "frequencies must follow softmax(logits / T) restricted to the top-k then top-p set and renormalised");
}

TEST_CASE("step 11b: the penalty reorders the greedy choice") {
  std::vector<float> row = {4.0f, -4.0f, 3.0f};
  llm::Rng rng(0);
  CHECK_MESSAGE(llm::sample_next(row, Ids{0, 0, 1}, {.temperature = 0.0f, .repetition_penalty = 2.0f}, rng) == 2,
                "sample_next applies the penalty before choosing: 4 / 2 = 2 < 3");
}

// ================================================================================================
// Exercise 3: generation
// ================================================================================================

TEST_CASE("step 12: prepare_inputs_for_generation feeds only the uncached tokens with their positions") {
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
  CHECK_MESSAGE(row_tokens(in.input_ids, 0) == Ids({seq(0, 5), seq(0, 6)}),
                "with 5 cached positions only the last 2 of 7 tokens are fed: the cache already holds the rest");
  CHECK_MESSAGE(row_tokens(in.position_ids, 0) == Ids({5, 6}), "positions must continue from the cache length");
  CHECK_MESSAGE(row_tokens(in.attention_mask, 0) == Ids(7, 1), "no mask given: all ones over cached + new tokens");

  // With one pad column on the left the positions count real tokens only: 4 5 instead of 5 6.
  const IdTensor mask = llm::make_ids({{0, 1, 1, 1, 1, 1, 1}});
  const llm::GenerationInputs padded = model.prepare_inputs_for_generation(seq, out.past_key_values.get(), &mask);
  CHECK_MESSAGE(row_tokens(padded.position_ids, 0) == Ids({4, 5}),
                "with left padding the positions are cumsum(mask) - 1 over the full mask");
  CHECK_MESSAGE(row_tokens(padded.attention_mask, 0) == row_tokens(mask, 0), "the given mask is handed on");

  const std::string msg = error_message<InvalidArgument>(
      [&] { model.prepare_inputs_for_generation(columns(seq, 0, 5), out.past_key_values.get()); });
  CHECK_MESSAGE(llm::testing::contains(msg, "5"),
                "a cache that already holds every column leaves nothing to feed: InvalidArgument naming the count");
}

TEST_CASE("step 13a: invalid generate values raise InvalidArgument naming the value") {
  const ModelConfig cfg = ModelConfig::lesson();  // max_position_embeddings 256
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 5, cfg.vocab_size);
  std::string msg = error_message<InvalidArgument>([&] { model.generate(prompt, {.max_new_tokens = -1}); });
  CHECK_MESSAGE(llm::testing::contains(msg, "-1"), "max_new_tokens = -1 must be refused and named");
  msg = error_message<InvalidArgument>([&] { model.generate(prompt, {.max_new_tokens = 252}); });
  CHECK_MESSAGE(llm::testing::contains(msg, "257"),
                "prompt 5 + max_new_tokens 252 = 257 > max_position_embeddings 256 must be refused, naming the total");
  msg = error_message<InvalidArgument>(
      [&] { model.generate(prompt, {.max_new_tokens = 2, .sampling = {.top_p = 1.5f}}); });
  CHECK_MESSAGE(llm::testing::contains(msg, "1.5"), "the sampling values are checked once, before anything runs");
  msg = error_message<InvalidArgument>([&] { model.generate(prompt, {.max_new_tokens = 2, .eos_token_id = 1000}); });
  CHECK_MESSAGE(llm::testing::contains(msg, "1000"), "an eos id outside the vocabulary is refused");
  const IdTensor ok = model.generate(prompt, {.max_new_tokens = 2, .sampling = {.temperature = 0.0f}});
  CHECK_MESSAGE(ok.size(1) == 7, "a valid request still works after refused ones");
}

TEST_CASE("step 13b: the penalty history includes the prompt") {
  // The lesson config (tied, small weights) makes a model that repeats its last token: the plain argmax
  // of the prefill is a prompt token. With a penalty, a history that starts with the prompt pushes it down.
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 4, cfg.vocab_size, 30);
  const Tensor logits = model.forward(prompt).logits;  // (1, 4, V); kept alive: row() is a view into it
  const auto last = logits.row(0, 3);
  std::vector<float> penalised(last.begin(), last.end());
  const auto plain = static_cast<std::int32_t>(llm::argmax(penalised));
  REQUIRE_MESSAGE(contains(row_tokens(prompt, 0), plain), "test setup: the unpenalised argmax is a prompt token");
  for (const std::int32_t id : row_tokens(prompt, 0))  // the penalty by hand: every prompt token, once
    penalised[static_cast<size_t>(id)] = penalised[static_cast<size_t>(id)] > 0 ? penalised[static_cast<size_t>(id)] / 10.0f
                                                                              : penalised[static_cast<size_t>(id)] * 10.0f;
  const auto expected = static_cast<std::int32_t>(llm::argmax(penalised));
  const IdTensor seq =
      model.generate(prompt, {.max_new_tokens = 1, .sampling = {.temperature = 0.0f, .repetition_penalty = 10.0f}});
  REQUIRE(seq.shape() == Shape({1, 5}));
  CHECK_MESSAGE(seq(0, 4) == expected,
                "the penalty history starts with the row's real prompt tokens: the first new token is already "
                "penalised for repeating the prompt (greedy picked " << seq(0, 4) << ", the prompt token is " << plain
                                                                     << ")");
}

TEST_CASE("step 13b: padding tokens are not part of the penalty history") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor b = sample_ids(1, 3, cfg.vocab_size, 500);
  const llm::GenerateOptions penalised{.max_new_tokens = 4, .sampling = {.temperature = 0.0f, .repetition_penalty = 5.0f}};
  const Ids alone = generate_by_hand(model, b, penalised)[0];
  REQUIRE_MESSAGE(!contains(row_tokens(b, 0), alone[0]), "test setup: the first new token is not a prompt token");
  // Pad with the very token the row picks first: if the padding counted as history, the penalty would
  // push that token down and the row would start differently.
  const IdTensor batch = llm::make_ids({row_tokens(sample_ids(1, 5, cfg.vocab_size, 10), 0),
                                        {alone[0], alone[0], b(0, 0), b(0, 1), b(0, 2)}});
  const IdTensor mask = llm::make_ids({{1, 1, 1, 1, 1}, {0, 0, 1, 1, 1}});
  llm::GenerateOptions padded = penalised;
  padded.attention_mask = &mask;
  const IdTensor together = model.generate(batch, padded);
  CHECK_MESSAGE(row_tokens(together, 1, 5) == alone,
                "the penalty history is the row's real tokens: left padding (mask 0) is not text");
}

TEST_CASE("step 13c: generate draws from one Rng stream row 0 first then row 1 step after step") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(2, 4, cfg.vocab_size, 3);
  const llm::GenerateOptions o{.max_new_tokens = 8, .sampling = {.temperature = 1.0f, .top_k = 0}, .seed = 31};
  const IdTensor seq = model.generate(prompt, o);
  REQUIRE_MESSAGE(seq.shape() == Shape({2, 12}), "2 rows of 4 + 8 tokens");
  const std::vector<Ids> expected = generate_by_hand(model, prompt, o);
  CHECK_MESSAGE(row_tokens(seq, 0, 4) == expected[0],
                "generate draws from one Rng(seed) stream: row 0 first, then row 1, step after step (one "
                "generator for the whole call, never a new one per step or per row)");
  CHECK_MESSAGE(row_tokens(seq, 1, 4) == expected[1],
                "generate draws from one Rng(seed) stream: row 0 first, then row 1, step after step (one "
                "generator for the whole call, never a new one per step or per row)");
}

TEST_CASE("step 13c: a negative temperature in generate means greedy") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 4, cfg.vocab_size, 11);
  const IdTensor seq = model.generate(prompt, {.max_new_tokens = 5, .sampling = {.temperature = -1.0f}});
  CHECK_MESSAGE(row_tokens(seq, 0, 4) == greedy_by_hand(model, prompt, 5),
                "temperature <= 0 is greedy — a negative one too, never an error");
}

TEST_CASE("step 13c: each decode step feeds only the tokens not yet in the cache") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 3, cfg.vocab_size, 40);
  const IdTensor seq = generate_feeding_new_tokens(model, prompt, {.max_new_tokens = 12, .sampling = {.temperature = 0.0f}});
  CHECK_MESSAGE(row_tokens(seq, 0, 3) == greedy_by_hand(model, prompt, 12),
                "prefill once, then (B, 1) new tokens per step at each row's next position");
}

TEST_CASE("step 13c: the same seed gives the same tokens and different seeds differ") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 4, cfg.vocab_size);
  const llm::GenerateOptions a{.max_new_tokens = 10, .sampling = {.temperature = 1.0f}, .seed = 11};
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

TEST_CASE("step 13c: temperature 2.0 and 0.1 and top-k or top-p settings generate what the chain gives") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 5, cfg.vocab_size);
  const llm::SamplingParams settings[] = {
      {.temperature = 2.0f}, {.temperature = 0.1f}, {.top_k = 10}, {.top_k = 0, .top_p = 0.9f}};
  for (const llm::SamplingParams& s : settings) {
    CAPTURE(s.temperature);
    CAPTURE(s.top_k);
    CAPTURE(s.top_p);
    const llm::GenerateOptions o{.max_new_tokens = 10, .sampling = s, .seed = 5};
    const IdTensor seq = model.generate(prompt, o);
    REQUIRE_MESSAGE(seq.shape() == Shape({1, 15}), "sampling returns prompt + max_new_tokens tokens");
    REQUIRE_MESSAGE(row_tokens(seq, 0, 5) == generate_by_hand(model, prompt, o)[0],
                    "each step hands options.sampling to sample_next unchanged, with the step's logits and the row's "
                    "history");
  }
}

TEST_CASE("step 13c: top-k 1 and a tiny top-p in generate equal greedy") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(2, 4, cfg.vocab_size, 30);
  const Ids greedy0 = greedy_by_hand(model, llm::make_ids({row_tokens(prompt, 0)}), 8);
  const IdTensor top1 = model.generate(prompt, {.max_new_tokens = 8, .sampling = {.top_k = 1}, .seed = 9});
  const IdTensor tiny = model.generate(prompt, {.max_new_tokens = 8, .sampling = {.top_k = 0, .top_p = 1e-6f}, .seed = 4});
  CHECK_MESSAGE(row_tokens(top1, 0, 4) == greedy0, "top_k = 1 keeps only the argmax: sampling is greedy");
  CHECK_MESSAGE(row_tokens(tiny, 0, 4) == greedy0,
                "top_p = 1e-6 keeps the single most likely token (top-p always keeps at least one)");
}

TEST_CASE("step 13c: a long greedy run of 3 + 50 tokens follows the argmax at every step") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor seq =
      model.generate(sample_ids(1, 3, cfg.vocab_size), {.max_new_tokens = 50, .sampling = {.temperature = 0.0f}});
  REQUIRE_MESSAGE(seq.shape() == Shape({1, 53}), "3 + 50 tokens");
  // Teacher forcing: one uncached forward over the result gives every step's logits.
  const Tensor logits = model.forward(seq).logits;
  for (Index t = 3; t < 53; ++t) {
    CAPTURE(t);
    const auto row = logits.row(0, t - 1);
    const float best = *std::max_element(row.begin(), row.end());
    REQUIRE_MESSAGE(row[static_cast<size_t>(seq(0, t))] >= best - kTol,
                    "greedy with the cache must pick the argmax of the full forward at every step: positions or "
                    "cache drift over a long run");
  }
}

TEST_CASE("step 13c: a left-padded batch generates what each prompt generates alone") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor a = sample_ids(1, 6, cfg.vocab_size, 10);
  const IdTensor b = sample_ids(1, 3, cfg.vocab_size, 500);
  // Row 1 is b with 3 pad tokens (id 0) on the left.
  const IdTensor batch = llm::make_ids({row_tokens(a, 0), {0, 0, 0, b(0, 0), b(0, 1), b(0, 2)}});
  const IdTensor mask = llm::make_ids({{1, 1, 1, 1, 1, 1}, {0, 0, 0, 1, 1, 1}});
  llm::GenerateOptions padded{.max_new_tokens = 6, .sampling = {.temperature = 0.0f}};
  padded.attention_mask = &mask;
  const IdTensor together = model.generate(batch, padded);
  REQUIRE(together.shape() == Shape({2, 12}));
  CHECK_MESSAGE(row_tokens(together, 0, 6) == greedy_by_hand(model, a, 6), "an unpadded row is unaffected by its neighbour");
  CHECK_MESSAGE(row_tokens(together, 1, 6) == greedy_by_hand(model, b, 6),
                "a left-padded row must generate as if alone: pad keys masked for every step (the mask grows by a "
                "column of ones) and positions counted from the row's first real token");
}

TEST_CASE("step 13c: a strong repetition penalty never repeats a token") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 4, cfg.vocab_size);
  // 1e3 pushes every seen token's positive logit close to 0 and its negative logit far below, under the
  // best unseen positive logit: a greedy run can only repeat a token its history forgot.
  const IdTensor seq = model.generate(
      prompt, {.max_new_tokens = 16, .sampling = {.temperature = 0.0f, .repetition_penalty = llm::kMaxRepetitionPenalty}});
  const Ids all = row_tokens(seq, 0);
  Ids repeated;
  for (size_t i = 4; i < all.size(); ++i)
    if (contains(Ids(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(i)), all[i])) repeated.push_back(all[i]);
  CHECK_MESSAGE(repeated.empty(), "the penalty history is the row's prompt plus every token generated so far");
}

TEST_CASE("step 13c: stories260K greedy from Once upon a time reproduces llama2.c" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const llm::Checkpoint ckpt = llm::load_checkpoint(files->checkpoint);
  const llm::Tokenizer tok = llm::Tokenizer::load(files->tokenizer, ckpt.config.vocab_size);
  const CausalLM model = CausalLM::from_checkpoint(ckpt);
  const Ids prompt = tok.encode("Once upon a time", /*bos=*/true);
  REQUIRE(prompt == Ids({1, 403, 407, 261, 378}));

  // llama2.c's run.c -n 64 with this prompt: 64 forward positions, 60 new tokens; it stops at BOS (id 1).
  const IdTensor cached = model.generate(
      llm::make_ids({prompt}), {.max_new_tokens = 60, .sampling = {.temperature = 0.0f}, .eos_token_id = llm::Tokenizer::kBos});
  const std::string expected =
      llm::testing::read_file(files->directory / "expected_prompt_once_upon_a_time_t0_n64.txt");
  CHECK_MESSAGE(tok.decode(row_tokens(cached, 0)) == expected,
                "greedy decoding of stories260K must match llama2.c: RoPE on adjacent pairs, GQA head h -> h / 2, "
                "positions from the cache length");
  // Teacher forcing: every cached choice is the argmax of one uncached forward over the result.
  const Tensor logits = model.forward(cached).logits;
  for (Index t = 5; t < cached.size(1); ++t) {
    CAPTURE(t);
    REQUIRE_MESSAGE(cached(0, t) == static_cast<std::int32_t>(llm::argmax(logits.row(0, t - 1))),
                    "each cached greedy token must be the argmax of the uncached full-sequence logits");
  }
}

TEST_CASE("step 13c: stories260K greedy from BOS for 200 tokens reproduces llama2.c byte for byte" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const llm::Checkpoint ckpt = llm::load_checkpoint(files->checkpoint);
  const llm::Tokenizer tok = llm::Tokenizer::load(files->tokenizer, ckpt.config.vocab_size);
  const CausalLM model = CausalLM::from_checkpoint(ckpt);
  const IdTensor seq =
      model.generate(llm::make_ids({{llm::Tokenizer::kBos}}),
                     {.max_new_tokens = 200, .sampling = {.temperature = 0.0f}, .eos_token_id = llm::Tokenizer::kBos});
  CHECK_MESSAGE(seq.size(1) == 201, "BOS + 200 greedy tokens (the story does not reach the next BOS)");
  const std::string expected = llm::testing::read_file(files->directory / "expected_greedy_t0_n200.txt");
  CHECK_MESSAGE(tok.decode(row_tokens(seq, 0)) == expected,
                "200 greedy tokens from BOS must reproduce llama2.c's reference output byte for byte");
}

TEST_CASE("step 13d: a row that emits eos is padded while the other rows keep generating") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = llm::make_ids({row_tokens(sample_ids(1, 4, cfg.vocab_size, 3), 0),
                                         row_tokens(sample_ids(1, 4, cfg.vocab_size, 400), 0)});
  const Ids g0 = greedy_by_hand(model, llm::make_ids({row_tokens(prompt, 0)}), 8);
  const Ids g1 = greedy_by_hand(model, llm::make_ids({row_tokens(prompt, 1)}), 8);

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

  const IdTensor seq = model.generate(
      prompt, {.max_new_tokens = 8, .sampling = {.temperature = 0.0f}, .pad_token_id = pad, .eos_token_id = eos});
  REQUIRE_MESSAGE(seq.shape() == Shape({2, 12}), "row 1 never emits eos, so generation runs all 8 steps");
  Ids expected0(g0.begin(), g0.begin() + k + 1);
  expected0.resize(8, pad);
  CHECK_MESSAGE(row_tokens(seq, 0, 4) == expected0,
                "a row keeps its eos and gets pad_token_id at every later step");
  CHECK_MESSAGE(row_tokens(seq, 1, 4) == g1, "another row keeps generating after row 0 finished (eos is per row)");

  const IdTensor eos_pad =
      model.generate(prompt, {.max_new_tokens = 8, .sampling = {.temperature = 0.0f}, .eos_token_id = eos});
  Ids expected_eos(g0.begin(), g0.begin() + k + 1);
  expected_eos.resize(8, eos);
  CHECK_MESSAGE(row_tokens(eos_pad, 0, 4) == expected_eos, "pad_token_id defaults to eos_token_id");
}

TEST_CASE("step 13d: a finished row draws no random number") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(2, 4, cfg.vocab_size, 17);
  llm::GenerateOptions o{.max_new_tokens = 10, .sampling = {.temperature = 1.0f, .top_k = 0}, .seed = 8};
  const std::vector<Ids> free_run = generate_by_hand(model, prompt, o);
  // eos = a token row 0 draws at step 2 that row 1 never draws in the free run.
  REQUIRE_MESSAGE(!contains(free_run[1], free_run[0][2]), "test setup: row 0's third token is not one of row 1's");
  o.eos_token_id = free_run[0][2];
  o.pad_token_id = 0;
  const std::vector<Ids> expected = generate_by_hand(model, prompt, o);
  const IdTensor seq = model.generate(prompt, o);
  CHECK_MESSAGE(row_tokens(seq, 0, 4) == expected[0], "row 0 stops at its eos and pads");
  CHECK_MESSAGE(row_tokens(seq, 1, 4) == expected[1],
                "once row 0 has finished it draws nothing: row 1's draws follow on in the one stream (a finished row "
                "that keeps drawing changes every other row)");
}

TEST_CASE("step 13d: generation stops early only when every row has finished") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const Ids p = row_tokens(sample_ids(1, 4, cfg.vocab_size, 60), 0);
  const Ids g = greedy_by_hand(model, llm::make_ids({p}), 10);
  // eos = the first new token at a step k >= 2 that did not appear before it in g.
  int k = -1;
  for (int s = 2; s < 10 && k < 0; ++s)
    if (!contains(Ids(g.begin(), g.begin() + s), g[static_cast<size_t>(s)])) k = s;
  REQUIRE_MESSAGE(k > 0, "test setup: no usable eos token in the greedy run");
  const std::int32_t eos = g[static_cast<size_t>(k)];
  CAPTURE(k);
  CAPTURE(eos);

  // One row: it finishes at step k, so the output is the prompt + k + 1 tokens, ending with eos.
  const IdTensor one =
      model.generate(llm::make_ids({p}), {.max_new_tokens = 10, .sampling = {.temperature = 0.0f}, .eos_token_id = eos});
  CHECK_MESSAGE(one.size(1) == 4 + k + 1, "a single row that emits eos stops generation right after it");

  // Two rows that finish at different steps: row 1 is row 0 one token ahead (row 0 is left-padded by
  // one column so both prompts have 5 columns). Row 1 emits eos at step k - 1, row 0 at step k.
  Ids ahead = p;
  ahead.push_back(g[0]);
  Ids behind = p;
  behind.insert(behind.begin(), 0);
  const IdTensor mask = llm::make_ids({{0, 1, 1, 1, 1}, {1, 1, 1, 1, 1}});
  const IdTensor both = model.generate(llm::make_ids({behind, ahead}),
                                       {.max_new_tokens = 10, .sampling = {.temperature = 0.0f}, .pad_token_id = 5,
                                        .eos_token_id = eos, .attention_mask = &mask});
  REQUIRE_MESSAGE(both.size(1) == 5 + k + 1,
                  "generation continues while any row is unfinished and stops at the step the last row finishes");
  CHECK(both(0, 5 + k) == eos);
  CHECK_MESSAGE(both(1, 5 + k) == 5, "row 1 finished one step earlier: its last column is padding");
}

TEST_CASE("step 13d: on_step reports every step's tokens one per row") {
  const ModelConfig cfg = ModelConfig::tiny();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(2, 3, cfg.vocab_size);
  std::vector<Ids> steps;
  const IdTensor seq = model.generate(prompt, {.max_new_tokens = 6, .sampling = {.temperature = 0.0f},
                                               .on_step = [&](std::span<const std::int32_t> chosen) {
                                                 steps.emplace_back(chosen.begin(), chosen.end());
                                               }});
  REQUIRE_MESSAGE(steps.size() == 6u, "on_step is called once per generated step");
  std::vector<Ids> expected;
  for (Index s = 0; s < 6; ++s) expected.push_back({seq(0, 3 + s), seq(1, 3 + s)});
  CHECK_MESSAGE(steps == expected, "on_step gets the step's tokens, one per row, in row order");
}

TEST_CASE("step 13e: sampling with and without the cache gives the same tokens") {
  const ModelConfig cfg = ModelConfig::tiny();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(2, 5, cfg.vocab_size);
  const llm::GenerateOptions cached{.max_new_tokens = 10, .sampling = {.temperature = 1.0f, .top_k = 20}, .seed = 77};
  llm::GenerateOptions uncached = cached;
  uncached.use_cache = false;
  const IdTensor x = model.generate(prompt, cached), y = model.generate(prompt, uncached);
  CHECK_MESSAGE(row_tokens(y, 0) == row_tokens(x, 0),
                "same logits and the same Rng draws (row 0 first) must give the same tokens with or without cache");
  CHECK_MESSAGE(row_tokens(y, 1) == row_tokens(x, 1),
                "same logits and the same Rng draws (row 0 first) must give the same tokens with or without cache");
}

TEST_CASE("step 13e: a left-padded batch without the cache gives the same tokens") {
  const ModelConfig cfg = varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor batch = llm::make_ids({{5, 9, 13, 17, 21}, {0, 0, 40, 41, 42}});
  const IdTensor mask = llm::make_ids({{1, 1, 1, 1, 1}, {0, 0, 1, 1, 1}});
  llm::GenerateOptions cached{.max_new_tokens = 5, .sampling = {.temperature = 0.0f}};
  cached.attention_mask = &mask;
  llm::GenerateOptions uncached = cached;
  uncached.use_cache = false;
  const IdTensor x = model.generate(batch, cached), y = model.generate(batch, uncached);
  CHECK_MESSAGE(row_tokens(y, 1) == row_tokens(x, 1),
                "without the cache the whole (B, S) sequence and its mask are forwarded each step: same tokens");
}

TEST_CASE("step 13e: stories260K without the cache gives the cached tokens" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const llm::Checkpoint ckpt = llm::load_checkpoint(files->checkpoint);
  const CausalLM model = CausalLM::from_checkpoint(ckpt);
  // Recomputing the sequence every step is quadratic: 20 steps keep this case short in a Debug build.
  llm::GenerateOptions options{.max_new_tokens = 20, .sampling = {.temperature = 0.0f}};
  const IdTensor prompt = llm::make_ids({{1, 403, 407, 261, 378}});  // BOS "Once upon a time"
  const IdTensor cached = model.generate(prompt, options);
  options.use_cache = false;
  const IdTensor uncached = model.generate(prompt, options);
  CHECK_MESSAGE(row_tokens(uncached, 0) == row_tokens(cached, 0),
                "use_cache = false must give the same tokens: the KV cache must not change a single token");
}
