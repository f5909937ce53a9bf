// basic_test.cpp — lesson 04's basic suite: the course's basic cases (members, logits shape, loss,
// cache length, greedy generation) plus small hand-checked cases for the default positions (step 2),
// the causal mask (step 3) and every step of the sampler (steps 8 to 13).
// Not here: equivalence of cached and uncached decoding, GQA, padding in generate, invalid inputs,
// sampling statistics and the real stories260K model — those are in advanced_test.cpp.
//
// Legend: B batch, T new tokens, P cached positions, S = P + T, C hidden, V vocab, L layers,
// KV key/value heads, D head_dim.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "causal_lm.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "llm/ops.h"
#include "llm/rng.h"
#include "llm/tensor.h"
#include "sampler.h"
#include "test_ids.h"
#include "test_support.h"

using llm::CausalLM;
using llm::IdTensor;
using llm::Index;
using llm::ModelConfig;
using llm::Shape;
using llm::Tensor;

namespace {

using lesson04_test::kept_ids;
using lesson04_test::sample_ids;
using llm::testing::all_finite;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr std::uint64_t kSeed = 42;

}  // namespace

// ------------------------------------------------------------------------------------------------
// Step 1: the members
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 1: the model has its members and one decoder block per layer") {
  ModelConfig cfg = ModelConfig::lesson();
  cfg.num_hidden_layers = 3;  // not the default 2, so a hard-coded layer count shows
  const CausalLM model(cfg, kSeed);
  const Index V = cfg.vocab_size, C = cfg.hidden_size;

  CHECK_MESSAGE(model.config().num_hidden_layers == 3, "config() must return the config the model was built from");
  CHECK_MESSAGE(model.layers.size() == 3u, "layers must hold num_hidden_layers decoder blocks");
  REQUIRE_MESSAGE(model.embed_tokens.weight != nullptr, "embed_tokens must be built (Embedding::random)");
  CHECK_MESSAGE(model.embed_tokens.weight->shape() == Shape({V, C}), "the embedding table is (vocab_size, hidden_size)");
  CHECK_MESSAGE(model.norm.weight.shape() == Shape{C}, "the final RMSNorm has one weight per hidden unit");
  CHECK_MESSAGE(model.norm.eps == doctest::Approx(cfg.rms_norm_eps), "the final RMSNorm uses rms_norm_eps");
  REQUIRE_MESSAGE(model.lm_head.weight != nullptr, "lm_head must be built");
  CHECK_MESSAGE(model.lm_head.weight->shape() == Shape({V, C}), "lm_head maps hidden_size to vocab_size: (V, C)");
  CHECK_MESSAGE(model.rotary_emb.head_dim() == cfg.head_dim(), "RoPE works on head_dim = hidden / heads");
  CHECK_MESSAGE(model.rotary_emb.max_positions() == cfg.max_position_embeddings,
                "the RoPE table must cover max_position_embeddings positions");
  CHECK_MESSAGE(model.rotary_emb.convention() == llm::RopeConvention::kAdjacentPairs,
                "stories260K was trained with adjacent-pair RoPE (llama2.c)");
  for (size_t l = 0; l < model.layers.size(); ++l) {
    CAPTURE(l);
    const llm::Attention& attn = model.layers[l].self_attn;
    CHECK_MESSAGE(attn.num_heads() == cfg.num_attention_heads, "each block is built from the model's config");
    CHECK_MESSAGE(attn.num_kv_heads() == cfg.num_key_value_heads, "each block is built from the model's config");
  }
}

TEST_CASE("step 1: tied embeddings share one weight object with lm_head and untied ones do not") {
  ModelConfig cfg = ModelConfig::tiny();
  REQUIRE(cfg.tie_word_embeddings);
  const CausalLM tied(cfg, kSeed);
  REQUIRE(tied.embed_tokens.weight != nullptr);
  CHECK_MESSAGE(tied.lm_head.weight.get() == tied.embed_tokens.weight.get(),
                "tie_word_embeddings: lm_head.weight must be the same shared object as embed_tokens.weight, not a copy");

  cfg.tie_word_embeddings = false;
  const CausalLM untied(cfg, kSeed);
  REQUIRE(untied.lm_head.weight != nullptr);
  REQUIRE(untied.embed_tokens.weight != nullptr);
  CHECK_MESSAGE(untied.lm_head.weight.get() != untied.embed_tokens.weight.get(),
                "tie_word_embeddings = false: lm_head needs its own weight (Linear::random)");
  CHECK(untied.lm_head.weight->shape() == Shape({cfg.vocab_size, cfg.hidden_size}));
  CHECK_MESSAGE(llm::testing::compare(*untied.lm_head.weight, *untied.embed_tokens.weight).max_abs > 0.0f,
                "an untied lm_head is drawn separately, so its values differ from the embedding's");
}

TEST_CASE("step 1: weights are drawn from Rng(seed) in the order the contract states") {
  // embed_tokens, then per layer (q k v o gate up down), then lm_head when untied; norms start at one.
  ModelConfig cfg = ModelConfig::tiny();
  cfg.tie_word_embeddings = false;
  const std::uint64_t seed = 7;
  const CausalLM model(cfg, seed);

  llm::Rng rng(seed);
  const float init_std = cfg.initializer_range;
  const llm::Embedding embed = llm::Embedding::random(cfg.vocab_size, cfg.hidden_size, rng, init_std);
  std::vector<llm::DecoderLayer> layers;
  for (int l = 0; l < cfg.num_hidden_layers; ++l) layers.emplace_back(cfg, rng);
  const llm::Linear head = llm::Linear::random(cfg.vocab_size, cfg.hidden_size, rng, init_std);

  REQUIRE(model.layers.size() == layers.size());
  INFO("draw order: embed_tokens, then each DecoderLayer(config, rng), then lm_head, all from one Rng(seed)");
  CHECK(llm::testing::compare(*model.embed_tokens.weight, *embed.weight).max_abs == 0.0f);
  for (size_t l = 0; l < layers.size(); ++l) {
    CAPTURE(l);
    CHECK(llm::testing::compare(*model.layers[l].self_attn.q_proj.weight, *layers[l].self_attn.q_proj.weight).max_abs ==
          0.0f);
    CHECK(llm::testing::compare(*model.layers[l].mlp.down_proj.weight, *layers[l].mlp.down_proj.weight).max_abs ==
          0.0f);
    CHECK(llm::testing::compare(model.layers[l].input_layernorm.weight, Tensor(Shape{cfg.hidden_size}, 1.0f)).max_abs ==
          0.0f);
  }
  CHECK(llm::testing::compare(*model.lm_head.weight, *head.weight).max_abs == 0.0f);
  CHECK_MESSAGE(llm::testing::compare(model.norm.weight, Tensor(Shape{cfg.hidden_size}, 1.0f)).max_abs == 0.0f,
                "the final norm's weights start at one");
}

// ------------------------------------------------------------------------------------------------
// Step 2: default positions
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 2: positions continue from the cache length without a mask") {
  const IdTensor pos = llm::default_position_ids(nullptr, /*batch=*/2, /*past=*/3, /*new_tokens=*/2);
  REQUIRE_MESSAGE(pos.shape() == Shape({2, 2}), "position ids are (batch, new_tokens)");
  for (Index b = 0; b < 2; ++b) {
    CAPTURE(b);
    CHECK_MESSAGE(pos(b, 0) == 3, "positions must continue from the cache length: 3 cached -> first new is 3");
    CHECK_MESSAGE(pos(b, 1) == 4, "positions must continue from the cache length: 3 cached -> second new is 4");
  }
  const IdTensor fresh = llm::default_position_ids(nullptr, 1, 0, 4);
  REQUIRE(fresh.shape() == Shape({1, 4}));
  for (Index t = 0; t < 4; ++t) {
    CAPTURE(t);
    CHECK_MESSAGE(fresh(0, t) == t, "without a cache positions are 0 1 2 3");
  }
}

TEST_CASE("step 2: positions count only real tokens under left padding") {
  // Row 0 has two pad columns on the left: cumsum(mask) = 0 0 1 2 3, minus 1, clamped at 0 -> 0 0 0 1 2.
  // Row 1 has none: 0 1 2 3 4.
  const IdTensor mask = llm::make_ids({{0, 0, 1, 1, 1}, {1, 1, 1, 1, 1}});
  const IdTensor all = llm::default_position_ids(&mask, 2, 0, 5);
  REQUIRE(all.shape() == Shape({2, 5}));
  const std::vector<std::vector<std::int32_t>> expected = {{0, 0, 0, 1, 2}, {0, 1, 2, 3, 4}};
  for (Index b = 0; b < 2; ++b)
    for (Index t = 0; t < 5; ++t) {
      CAPTURE(b);
      CAPTURE(t);
      CHECK_MESSAGE(all(b, t) == expected[static_cast<size_t>(b)][static_cast<size_t>(t)],
                    "with padding, positions are cumsum(mask) - 1 clamped at 0: each row's first real token is 0");
    }
  // The same mask with 3 columns already cached: only the last 2 columns' positions are returned.
  const IdTensor tail = llm::default_position_ids(&mask, 2, 3, 2);
  REQUIRE_MESSAGE(tail.shape() == Shape({2, 2}), "with a cache only the new tokens get positions");
  CHECK_MESSAGE(tail(0, 0) == 1, "the cumsum runs over the cached columns too: row 0 -> 1 2");
  CHECK(tail(0, 1) == 2);
  CHECK_MESSAGE(tail(1, 0) == 3, "row 1 has no padding, so it continues from the cache length: 3 4");
  CHECK(tail(1, 1) == 4);
}

// ------------------------------------------------------------------------------------------------
// Step 3: the causal mask
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 3: the mask is causal and aligned bottom-right with the cache") {
  // P = 2 cached, T = 3 new: new token t is absolute position 2 + t and sees keys 0..2+t.
  //           keys: 0  1  2  3  4
  //   t = 0 (pos 2) 0  0  0  -  -
  //   t = 1 (pos 3) 0  0  0  0  -
  //   t = 2 (pos 4) 0  0  0  0  0
  const Tensor mask = llm::build_causal_mask(nullptr, 1, 2, 3);
  REQUIRE_MESSAGE(mask.shape() == Shape({1, 3, 5}), "the mask is (B, T, P + T)");
  for (Index t = 0; t < 3; ++t)
    for (Index j = 0; j < 5; ++j) {
      CAPTURE(t);
      CAPTURE(j);
      if (j <= 2 + t)
        CHECK_MESSAGE(mask(0, t, j) == 0.0f, "new token t sits at P + t and must see every key j <= P + t (cache too)");
      else
        CHECK_MESSAGE(mask(0, t, j) == -kInf, "a key after the query (j > P + t) must be -inf: causality");
    }
}

TEST_CASE("step 3: padding keys are masked for every query") {
  // Row 0: the first column is padding, P = 1, T = 3. Row 1: no padding.
  const IdTensor pad = llm::make_ids({{0, 1, 1, 1}, {1, 1, 1, 1}});
  const Tensor mask = llm::build_causal_mask(&pad, 2, 1, 3);
  REQUIRE(mask.shape() == Shape({2, 3, 4}));
  for (Index b = 0; b < 2; ++b)
    for (Index t = 0; t < 3; ++t)
      for (Index j = 0; j < 4; ++j) {
        CAPTURE(b);
        CAPTURE(t);
        CAPTURE(j);
        const bool visible = j <= 1 + t && pad(b, j) == 1;
        CHECK_MESSAGE(mask(b, t, j) == (visible ? 0.0f : -kInf),
                      "key j is visible iff j <= P + t (causal) and attention_mask[b][j] == 1 (not padding)");
      }
}

// ------------------------------------------------------------------------------------------------
// Steps 4 and 5: forward and loss (the course's basic cases)
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 4: logits have shape 2 x 16 x 1000 on the lesson config") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const auto out = model.forward(sample_ids(2, 16, cfg.vocab_size));
  REQUIRE_MESSAGE(out.logits.shape() == Shape({2, 16, 1000}), "logits are (B, T, vocab_size)");
  CHECK_MESSAGE(all_finite(out.logits), "logits must be finite");
  CHECK_MESSAGE(!out.loss.has_value(), "no labels -> no loss");
  CHECK_MESSAGE(out.past_key_values == nullptr, "no use_cache and no past -> no cache is returned");
}

TEST_CASE("step 5: labels give a finite positive loss") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor ids = sample_ids(2, 16, cfg.vocab_size);
  IdTensor labels = ids;  // targets unrelated to the inputs (with tied weights a token predicts itself well)
  for (auto& id : labels.flat()) id = (id + 500) % cfg.vocab_size;
  const auto out = model.forward(ids, {.labels = &labels});
  REQUIRE_MESSAGE(out.loss.has_value(), "labels given -> the output must carry a loss");
  CHECK_MESSAGE(std::isfinite(*out.loss), "the cross-entropy must be finite");
  CHECK_MESSAGE(*out.loss > 0.0f, "a cross-entropy over a 1000-token vocabulary is positive");
  // Small random weights make the distribution almost uniform: loss ~ ln(1000) = 6.9.
  CHECK_MESSAGE(*out.loss == doctest::Approx(std::log(1000.0f)).epsilon(0.05),
                "a near-uniform random model scores about ln(vocab_size): is the loss a mean, not a sum?");
}

TEST_CASE("step 5: the output keeps both the loss and the logits") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor ids = sample_ids(1, 6, cfg.vocab_size);
  const IdTensor labels = sample_ids(1, 6, cfg.vocab_size);
  const auto with = model.forward(ids, {.labels = &labels});
  const auto without = model.forward(ids);
  CHECK_MESSAGE(with.loss.has_value(), "the loss must be returned alongside the logits");
  REQUIRE_MESSAGE(with.logits.shape() == Shape({1, 6, 1000}), "the logits must be returned even when a loss is");
  CHECK_MESSAGE(llm::testing::compare(with.logits, without.logits).max_abs == 0.0f,
                "labels only add a loss; they must not change the logits");
}

TEST_CASE("step 4: an 8-token prefill then one cached token gives 1 x 1 x 1000 logits and 9 positions") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const auto prefill = model.forward(sample_ids(1, 8, cfg.vocab_size), {.use_cache = true});
  REQUIRE_MESSAGE(prefill.past_key_values != nullptr, "use_cache = true must return a cache");
  CHECK_MESSAGE(prefill.past_key_values->seq_length() == 8, "after an 8-token prefill the cache holds 8 positions");

  const auto step = model.forward(llm::make_ids({{5}}), {.past_key_values = prefill.past_key_values, .use_cache = true});
  CHECK_MESSAGE(step.logits.shape() == Shape({1, 1, 1000}), "a decode step feeds one token and gets one row of logits");
  REQUIRE(step.past_key_values != nullptr);
  CHECK_MESSAGE(step.past_key_values->seq_length() == 9, "the new token's K/V are appended: 8 + 1 = 9 positions");
  CHECK_MESSAGE(step.past_key_values.get() == prefill.past_key_values.get(),
                "the given cache is continued in place, not replaced by a new one");
}

TEST_CASE("step 4: after a 5-token forward with use_cache every layer holds 5 positions") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const auto out = model.forward(sample_ids(1, 5, cfg.vocab_size), {.use_cache = true});
  REQUIRE_MESSAGE(out.past_key_values != nullptr, "use_cache = true must return a cache");
  CHECK(out.past_key_values->seq_length() == 5);
  REQUIRE_MESSAGE(out.past_key_values->num_layers() == cfg.num_hidden_layers, "one cache entry per decoder layer");
  for (Index l = 0; l < cfg.num_hidden_layers; ++l) {
    CAPTURE(l);
    CHECK_MESSAGE(out.past_key_values->layer(l).length() == 5,
                  "every layer must receive its own LayerKVCache (cache->layer(l)) in forward");
  }
}

TEST_CASE("step 4: the cache stores n_kv_heads heads not query heads") {
  const ModelConfig cfg = ModelConfig::lesson();  // 4 query heads, 2 KV heads, head_dim 32
  const CausalLM model(cfg, kSeed);
  const auto out = model.forward(sample_ids(2, 7, cfg.vocab_size), {.use_cache = true});
  REQUIRE(out.past_key_values != nullptr);
  for (Index l = 0; l < cfg.num_hidden_layers; ++l) {
    CAPTURE(l);
    const Shape expected{2, cfg.num_key_value_heads, 7, cfg.head_dim()};
    CHECK_MESSAGE(out.past_key_values->layer(l).key_states().shape() == expected,
                  "cached keys are (B, n_kv_heads, positions, head_dim): the cache stores KV heads not query heads");
    CHECK_MESSAGE(out.past_key_values->layer(l).value_states().shape() == expected,
                  "cached values are (B, n_kv_heads, positions, head_dim)");
  }
}

// ------------------------------------------------------------------------------------------------
// Step 7: generate (the course's basic case)
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 7: greedy generate of 5 + 10 gives 15 tokens starting with the prompt") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 5, cfg.vocab_size);
  const IdTensor seq = model.generate(prompt, {.max_new_tokens = 10, .temperature = 0.0f});
  REQUIRE_MESSAGE(seq.shape() == Shape({1, 15}), "generate returns the prompt followed by max_new_tokens new tokens");
  for (Index t = 0; t < 5; ++t) {
    CAPTURE(t);
    CHECK_MESSAGE(seq(0, t) == prompt(0, t), "the output must start with the prompt, unchanged");
  }
  for (Index t = 5; t < 15; ++t) {
    CAPTURE(t);
    CHECK_MESSAGE((seq(0, t) >= 0 && seq(0, t) < cfg.vocab_size), "generated ids are in [0, vocab_size)");
  }
  // Greedy: the first new token is the argmax of the prompt's last logits.
  const auto out = model.forward(prompt);
  CHECK_MESSAGE(seq(0, 5) == static_cast<std::int32_t>(llm::argmax(out.logits.row(0, 4))),
                "temperature 0 is greedy: the first new token is the argmax of the last prompt position's logits");
}

// ------------------------------------------------------------------------------------------------
// Steps 8 to 13: the sampler, one hand-checked row each
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 8: repetition penalty divides positive logits and multiplies negative ones") {
  std::vector<float> row = {2.0f, -2.0f, 1.0f, 0.5f};
  const std::vector<std::int32_t> history = {0, 1, -1, 9};  // -1 and 9 are outside [0, 4): skipped
  llm::apply_repetition_penalty(row, history, 2.0f);
  CHECK_MESSAGE(row[0] == doctest::Approx(1.0f), "a positive logit of a seen token is divided: 2 / 2 = 1");
  CHECK_MESSAGE(row[1] == doctest::Approx(-4.0f), "a negative logit of a seen token is multiplied: -2 * 2 = -4");
  CHECK_MESSAGE(row[2] == 1.0f, "a token not in the history is untouched");
  CHECK_MESSAGE(row[3] == 0.5f, "a token not in the history is untouched");

  std::vector<float> same = {2.0f, -2.0f};
  const std::vector<std::int32_t> both = {0, 1};
  llm::apply_repetition_penalty(same, both, 1.0f);
  CHECK_MESSAGE(same[0] == 2.0f, "penalty 1 changes nothing");
  CHECK_MESSAGE(same[1] == -2.0f, "penalty 1 changes nothing");
}

TEST_CASE("step 9: temperature divides every logit and keeps -inf") {
  std::vector<float> row = {2.0f, -1.0f, 0.5f, -kInf};
  llm::apply_temperature(row, 0.5f);
  CHECK_MESSAGE(row[0] == doctest::Approx(4.0f), "logits are divided by the temperature: 2 / 0.5 = 4");
  CHECK_MESSAGE(row[1] == doctest::Approx(-2.0f), "logits are divided by the temperature: -1 / 0.5 = -2");
  CHECK(row[2] == doctest::Approx(1.0f));
  CHECK_MESSAGE(row[3] == -kInf, "a filtered (-inf) logit stays -inf");
  std::vector<float> other = {1.0f, 2.0f};
  CHECK_THROWS_AS_MESSAGE(llm::apply_temperature(other, 0.0f), llm::InvalidArgument,
                          "temperature 0 is greedy: apply_temperature must refuse to divide by it");
}

TEST_CASE("step 10: top-k keeps the k largest logits with ties going to the lower id") {
  const std::vector<float> base = {1.0f, 5.0f, 3.0f, 5.0f, 2.0f};
  auto two = base;
  llm::apply_top_k(two, 2);
  CHECK_MESSAGE(kept_ids(two) == std::vector<std::int32_t>({1, 3}), "top-k 2 keeps the two largest (ids 1 and 3)");
  CHECK_MESSAGE(two[1] == 5.0f, "kept logits keep their values");
  auto three = base;
  llm::apply_top_k(three, 3);
  CHECK(kept_ids(three) == std::vector<std::int32_t>({1, 2, 3}));

  std::vector<float> ties = {1.0f, 1.0f, 1.0f};
  llm::apply_top_k(ties, 2);
  CHECK_MESSAGE(kept_ids(ties) == std::vector<std::int32_t>({0, 1}), "on ties the lower id wins");

  auto off = base;
  llm::apply_top_k(off, 0);
  CHECK_MESSAGE(kept_ids(off).size() == 5u, "k <= 0 disables top-k");
  auto all = base;
  llm::apply_top_k(all, 5);
  CHECK_MESSAGE(kept_ids(all).size() == 5u, "k >= V keeps everything");
}

TEST_CASE("step 11: top-p keeps the smallest prefix whose probability reaches p") {
  // Probabilities 0.5 0.25 0.125 0.125: cumulative 0.5 0.75 0.875 1.
  const std::vector<float> base = {std::log(0.125f), std::log(0.5f), std::log(0.125f), std::log(0.25f)};
  const struct {
    float p;
    std::vector<std::int32_t> kept;
  } cases[] = {{0.4f, {1}}, {0.6f, {1, 3}}, {0.8f, {0, 1, 3}}, {1.0f, {0, 1, 2, 3}}};
  for (const auto& c : cases) {
    CAPTURE(c.p);
    auto row = base;
    llm::apply_top_p(row, c.p);
    CHECK_MESSAGE(kept_ids(row) == c.kept,
                  "top-p sorts by probability and keeps the smallest prefix whose cumulative probability is >= p");
    for (std::int32_t id : kept_ids(row))
      CHECK_MESSAGE(row[static_cast<size_t>(id)] == base[static_cast<size_t>(id)], "kept logits keep their values");
  }
}

TEST_CASE("step 12: greedy picks the largest logit and the lowest id on ties") {
  const std::vector<float> a = {1.0f, 3.0f, 2.0f};
  CHECK_MESSAGE(llm::select_greedy(a) == 1, "greedy is the argmax");
  const std::vector<float> b = {3.0f, 1.0f, 3.0f};
  CHECK_MESSAGE(llm::select_greedy(b) == 0, "greedy takes the lowest id on ties");
  const std::vector<float> c = {-kInf, -5.0f, -kInf};
  CHECK_MESSAGE(llm::select_greedy(c) == 1, "greedy never picks a filtered (-inf) id");
}

TEST_CASE("step 12: the categorical draw follows the CDF at its boundaries") {
  // Four equal logits: probabilities exactly 0.25, CDF 0.25 0.5 0.75 1. The draw is the first id whose
  // cumulative probability EXCEEDS u, so u = 0.25 belongs to id 1, and just below it to id 0.
  const std::vector<float> four = {0.0f, 0.0f, 0.0f, 0.0f};
  const struct {
    float u;
    std::int32_t id;
  } cases[] = {{0.0f, 0},  {std::nextafter(0.25f, 0.0f), 0}, {0.25f, 1}, {0.5f, 2},
               {0.75f, 3}, {std::nextafter(1.0f, 0.0f), 3}};
  for (const auto& c : cases) {
    CAPTURE(c.u);
    CHECK_MESSAGE(llm::select_categorical(four, c.u) == c.id,
                  "categorical: the first id whose cumulative probability exceeds u (strictly)");
  }
  // Filtered ids have probability 0 and are never returned: 0.5 for ids 0 and 2.
  const std::vector<float> holes = {0.0f, -kInf, 0.0f, -kInf};
  CHECK(llm::select_categorical(holes, 0.0f) == 0);
  CHECK(llm::select_categorical(holes, std::nextafter(0.5f, 0.0f)) == 0);
  CHECK_MESSAGE(llm::select_categorical(holes, 0.5f) == 2, "a -inf id in between must be skipped");
  CHECK_MESSAGE(llm::select_categorical(holes, std::nextafter(1.0f, 0.0f)) == 2,
                "a trailing -inf id is never returned, even for u close to 1");
}

TEST_CASE("step 13: sample_next with temperature 0 is greedy after the penalty") {
  // Penalty 2 on token 0: 3 -> 1.5, so token 1 (2.9) becomes the largest.
  std::vector<float> row = {3.0f, 2.9f, 1.0f};
  const std::vector<std::int32_t> history = {0};
  llm::Rng rng(1);
  const auto id = llm::sample_next(row, history, {.temperature = 0.0f, .repetition_penalty = 2.0f}, rng);
  CHECK_MESSAGE(id == 1, "the penalty comes before the greedy choice: 3 / 2 = 1.5 < 2.9");
}

TEST_CASE("step 13: sample_next draws with rng.uniform from the filtered distribution") {
  // Four equal logits with top-k off: the draw is id floor(4u) for u = the next rng.uniform().
  for (std::uint64_t seed = 0; seed < 8; ++seed) {
    CAPTURE(seed);
    llm::Rng rng(seed), copy(seed);
    std::vector<float> row = {0.0f, 0.0f, 0.0f, 0.0f};
    const float u = copy.uniform();
    const auto id = llm::sample_next(row, {}, {.temperature = 1.0f, .top_k = 0}, rng);
    CHECK_MESSAGE(id == static_cast<std::int32_t>(std::floor(4.0f * u)),
                  "sample_next must draw exactly one rng.uniform() and pick by the CDF");
  }
  // Top-k 1 leaves one token: every draw returns it.
  llm::Rng rng(3);
  for (int i = 0; i < 10; ++i) {
    std::vector<float> row = {0.1f, 0.3f, 0.2f};
    CHECK_MESSAGE(llm::sample_next(row, {}, {.temperature = 1.0f, .top_k = 1}, rng) == 1,
                  "top-k 1 leaves only the argmax");
  }
}
