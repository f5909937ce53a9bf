// basic_test.cpp — lesson 04's basic suite, in the order of the steps: the course's basic cases
// (members, logits shape, loss, cache length, greedy generation) and small hand-checked cases for every
// step, including each boundary rule the lesson states (>= at the top-p line, > in the draw, ties).
// A case needs only its own step and the ones before it; exercise 2 (the sampler) needs no model.
// Not here: equivalences of cached and uncached decoding, GQA, padding in generate, invalid inputs,
// sampling statistics and the real stories260K model — those are in advanced_test.cpp.
//
// Legend: B batch, T new tokens, P cached positions, S = P + T, C hidden, V vocab, L layers,
// KV key/value heads, D head_dim.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "causal_lm.h"
#include "lesson04_support.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "llm/ops.h"
#include "llm/rng.h"
#include "llm/tensor.h"
#include "sampler.h"
#include "test_support.h"

using llm::CausalLM;
using llm::IdTensor;
using llm::Index;
using llm::InvalidArgument;
using llm::ModelConfig;
using llm::Shape;
using llm::Tensor;

namespace {

using lesson04_test::greedy_by_hand;
using lesson04_test::Ids;
using lesson04_test::kept_ids;
using lesson04_test::row_tokens;
using llm::testing::all_finite;
using llm::testing::error_message;
using llm::testing::sample_ids;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr std::uint64_t kSeed = 42;

}  // namespace

// ================================================================================================
// Exercise 1: the model
// ================================================================================================

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
    REQUIRE_MESSAGE(attn.num_heads() == cfg.num_attention_heads, "each block is built from the model's config");
    REQUIRE_MESSAGE(attn.num_kv_heads() == cfg.num_key_value_heads, "each block is built from the model's config");
  }
}

TEST_CASE("step 1: tied embeddings share one weight object with lm_head and untied ones do not") {
  ModelConfig cfg = ModelConfig::tiny();
  REQUIRE(cfg.tie_word_embeddings);
  const CausalLM tied(cfg, kSeed);
  REQUIRE_MESSAGE(tied.embed_tokens.weight != nullptr, "embed_tokens must be built (Embedding::random)");
  CHECK_MESSAGE(tied.lm_head.weight.get() == tied.embed_tokens.weight.get(),
                "tie_word_embeddings: lm_head.weight must be the same shared object as embed_tokens.weight, not a copy");

  cfg.tie_word_embeddings = false;
  const CausalLM untied(cfg, kSeed);
  REQUIRE_MESSAGE(untied.lm_head.weight != nullptr, "tie_word_embeddings = false: lm_head needs its own weight");
  REQUIRE(untied.embed_tokens.weight != nullptr);
  CHECK_MESSAGE(untied.lm_head.weight.get() != untied.embed_tokens.weight.get(),
                "tie_word_embeddings = false: lm_head needs its own weight (Linear::random)");
  CHECK(untied.lm_head.weight->shape() == Shape({cfg.vocab_size, cfg.hidden_size}));
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
  REQUIRE(model.embed_tokens.weight != nullptr);
  REQUIRE(model.lm_head.weight != nullptr);
  INFO("draw order: embed_tokens, then each DecoderLayer(config, rng), then lm_head, all from one Rng(seed)");
  CHECK(llm::testing::compare(*model.embed_tokens.weight, *embed.weight).max_abs == 0.0f);
  for (size_t l = 0; l < layers.size(); ++l) {
    CAPTURE(l);
    REQUIRE(llm::testing::compare(*model.layers[l].self_attn.q_proj.weight, *layers[l].self_attn.q_proj.weight)
                .max_abs == 0.0f);
    REQUIRE(llm::testing::compare(*model.layers[l].mlp.down_proj.weight, *layers[l].mlp.down_proj.weight).max_abs ==
            0.0f);
  }
  CHECK(llm::testing::compare(*model.lm_head.weight, *head.weight).max_abs == 0.0f);
  CHECK_MESSAGE(llm::testing::compare(model.norm.weight, Tensor(Shape{cfg.hidden_size}, 1.0f)).max_abs == 0.0f,
                "the final norm's weights start at one");
}

TEST_CASE("step 2: positions continue from the cache length without a mask") {
  const IdTensor pos = llm::default_position_ids(nullptr, /*batch=*/2, /*past=*/3, /*new_tokens=*/2);
  REQUIRE_MESSAGE(pos.shape() == Shape({2, 2}), "position ids are (batch, new_tokens)");
  CHECK_MESSAGE(row_tokens(pos, 0) == Ids({3, 4}), "positions must continue from the cache length: 3 cached -> 3 4");
  CHECK_MESSAGE(row_tokens(pos, 1) == Ids({3, 4}), "every row continues from the cache length: 3 4");
  const IdTensor fresh = llm::default_position_ids(nullptr, 1, 0, 4);
  REQUIRE(fresh.shape() == Shape({1, 4}));
  CHECK_MESSAGE(row_tokens(fresh, 0) == Ids({0, 1, 2, 3}), "without a cache positions are 0 1 2 3");
}

TEST_CASE("step 2: positions count only real tokens under left padding") {
  // Row 0 has two pad columns on the left: cumsum(mask) = 0 0 1 2 3, minus 1, clamped at 0 -> 0 0 0 1 2.
  // Row 1 has none: 0 1 2 3 4.
  const IdTensor mask = llm::make_ids({{0, 0, 1, 1, 1}, {1, 1, 1, 1, 1}});
  const IdTensor all = llm::default_position_ids(&mask, 2, 0, 5);
  REQUIRE(all.shape() == Shape({2, 5}));
  CHECK_MESSAGE(row_tokens(all, 0) == Ids({0, 0, 0, 1, 2}),
                "with padding, positions are cumsum(mask) - 1 clamped at 0: each row's first real token is 0");
  CHECK_MESSAGE(row_tokens(all, 1) == Ids({0, 1, 2, 3, 4}), "a row without padding counts 0 1 2 3 4");
  // The same mask with 3 columns already cached: only the last 2 columns' positions are returned.
  const IdTensor tail = llm::default_position_ids(&mask, 2, 3, 2);
  REQUIRE_MESSAGE(tail.shape() == Shape({2, 2}), "with a cache only the new tokens get positions");
  CHECK_MESSAGE(row_tokens(tail, 0) == Ids({1, 2}), "the cumsum runs over the cached columns too: row 0 -> 1 2");
  CHECK_MESSAGE(row_tokens(tail, 1) == Ids({3, 4}), "row 1 has no padding, so it continues from the cache length: 3 4");
}

TEST_CASE("step 3: the mask is causal and aligned bottom-right with the cache") {
  // P = 2 cached, T = 3 new: new token t is absolute position 2 + t and sees keys 0..2+t.
  //           keys: 0  1  2  3  4
  //   t = 0 (pos 2) 0  0  0  -  -
  //   t = 1 (pos 3) 0  0  0  0  -
  //   t = 2 (pos 4) 0  0  0  0  0
  const Tensor mask = llm::build_causal_mask(nullptr, 1, 2, 3);
  REQUIRE_MESSAGE(mask.shape() == Shape({1, 3, 5}), "the mask is (B, T, P + T)");
  const std::vector<float> expected = {0, 0, 0, -kInf, -kInf, 0, 0, 0, 0, -kInf, 0, 0, 0, 0, 0};
  CHECK_MESSAGE(std::vector<float>(mask.flat().begin(), mask.flat().end()) == expected,
                "new token t sits at P + t: it sees every key j <= P + t (the cache too) and none after it");
}

TEST_CASE("step 3: padding keys are masked for every query") {
  // Row 0: the first column is padding, P = 1, T = 3. Row 1: no padding.
  const IdTensor pad = llm::make_ids({{0, 1, 1, 1}, {1, 1, 1, 1}});
  const Tensor mask = llm::build_causal_mask(&pad, 2, 1, 3);
  REQUIRE(mask.shape() == Shape({2, 3, 4}));
  const std::vector<float> row0 = {-kInf, 0, -kInf, -kInf, -kInf, 0, 0, -kInf, -kInf, 0, 0, 0};
  const std::vector<float> row1 = {0, 0, -kInf, -kInf, 0, 0, 0, -kInf, 0, 0, 0, 0};
  const auto flat = mask.flat();
  CHECK_MESSAGE(std::vector<float>(flat.begin(), flat.begin() + 12) == row0,
                "key j is visible iff j <= P + t (causal) and attention_mask[b][j] == 1: padding is hidden");
  CHECK_MESSAGE(std::vector<float>(flat.begin() + 12, flat.end()) == row1, "a row without padding is only causal");
}

TEST_CASE("step 4: logits have shape 2 x 16 x 1000 on the lesson config") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const auto out = model.forward(sample_ids(2, 16, cfg.vocab_size));
  REQUIRE_MESSAGE(out.logits.shape() == Shape({2, 16, 1000}), "logits are (B, T, vocab_size)");
  CHECK_MESSAGE(all_finite(out.logits), "logits must be finite");
  CHECK_MESSAGE(!out.loss.has_value(), "no labels -> no loss");
  CHECK_MESSAGE(out.past_key_values == nullptr, "no use_cache -> no cache is returned");
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
  REQUIRE_MESSAGE(out.past_key_values->num_layers() == cfg.num_hidden_layers, "one cache entry per decoder layer");
  for (Index l = 0; l < cfg.num_hidden_layers; ++l) {
    CAPTURE(l);
    REQUIRE_MESSAGE(out.past_key_values->layer(l).length() == 5,
                    "every layer must receive its own LayerKVCache (cache->layer(l)) in forward");
  }
}

TEST_CASE("step 4: the cache stores n_kv_heads heads not query heads") {
  const ModelConfig cfg = ModelConfig::lesson();  // 4 query heads, 2 KV heads, head_dim 32
  const CausalLM model(cfg, kSeed);
  const auto out = model.forward(sample_ids(2, 7, cfg.vocab_size), {.use_cache = true});
  REQUIRE(out.past_key_values != nullptr);
  const Shape expected{2, cfg.num_key_value_heads, 7, cfg.head_dim()};
  CHECK_MESSAGE(out.past_key_values->layer(0).key_states().shape() == expected,
                "cached keys are (B, n_kv_heads, positions, head_dim): the cache stores KV heads not query heads");
  CHECK_MESSAGE(out.past_key_values->layer(0).value_states().shape() == expected,
                "cached values are (B, n_kv_heads, positions, head_dim)");
}

TEST_CASE("step 4: one token decoded with the cache equals the last row of the full forward") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor ids = sample_ids(1, 6, cfg.vocab_size);
  const Tensor full = model.forward(ids).logits;  // (1, 6, V)
  const auto prefill = model.forward(lesson04_test::columns(ids, 0, 5), {.use_cache = true});
  REQUIRE(prefill.past_key_values != nullptr);
  const auto step = model.forward(lesson04_test::columns(ids, 5, 6),
                                  {.past_key_values = prefill.past_key_values, .use_cache = true});
  CHECK_MESSAGE(llm::testing::max_diff(step.logits, llm::testing::tokens(full, 5, 6)) <= 1e-4f,
                "a decode step sees the 5 cached keys and its own: position 5 (the cache length), mask bottom-right");
}

// The worked example of the next three cases: logits (1, 2, 4),
//   row 0 = {0, 0, 0, 0}          probabilities 1/4 each:            label 2 -> -log 1/4 = ln 4 = 1.3862944
//   row 1 = {0, 0, ln 2, ln 4}    probabilities 1/8 1/8 2/8 4/8:      label 3 -> -log 1/2 = ln 2 = 0.6931472
// mean (ln 4 + ln 2) / 2 = 1.0397208; the sum would be 2.0794415.
namespace {
Tensor worked_logits() {
  return Tensor(Shape{1, 2, 4}, {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, std::log(2.0f), std::log(4.0f)});
}
}  // namespace

TEST_CASE("step 5: the loss is the mean of -log p over the positions") {
  const float loss = llm::cross_entropy(worked_logits(), llm::make_ids({{2, 3}}));
  CHECK_MESSAGE(loss == doctest::Approx(1.0397208f).epsilon(1e-5),
                "cross_entropy = mean over positions of -log softmax(logits)[label]: (ln 4 + ln 2) / 2 — the "
                "mean, not the sum (2.079)");
}

TEST_CASE("step 5: positions labelled -100 count neither in the sum nor in the mean") {
  // Row 1 labelled -100: only row 0 counts, so the loss is ln 4 (a sum would be ln 4 too; the mean over
  // both positions would be ln 4 / 2 = 0.693).
  const float loss = llm::cross_entropy(worked_logits(), llm::make_ids({{2, llm::kIgnoreIndex}}));
  CHECK_MESSAGE(loss == doctest::Approx(std::log(4.0f)).epsilon(1e-5),
                "a -100 label is ignored: not added, and not counted in the mean (ln 4, not ln 4 / 2)");
}

TEST_CASE("step 5: logits of plus or minus 1e4 give a finite loss") {
  // exp(1e4) overflows float and double: subtract the row max first (log-sum-exp).
  const Tensor logits(Shape{1, 2, 3}, {1e4f, -1e4f, 0.0f, 1e4f, -1e4f, 0.0f});
  const float loss = llm::cross_entropy(logits, llm::make_ids({{0, 2}}));
  CHECK_MESSAGE(std::isfinite(loss), "compute log(sum exp(x - max)) + max: exp(1e4) alone is infinite");
  // label 0 has probability ~1 (-log p ~ 0), label 2 is 1e4 below the max (-log p ~ 1e4): mean 5e3.
  CHECK_MESSAGE(loss == doctest::Approx(5e3f).epsilon(1e-5), "-log p of a logit 1e4 below the max is 1e4");
}

TEST_CASE("step 5: forward with labels returns the loss alongside unchanged logits") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor ids = sample_ids(2, 16, cfg.vocab_size);
  IdTensor labels = ids;  // targets unrelated to the inputs (with tied weights a token predicts itself well)
  for (auto& id : labels.flat()) id = (id + 500) % cfg.vocab_size;
  const auto with = model.forward(ids, {.labels = &labels});
  const auto without = model.forward(ids);
  REQUIRE_MESSAGE(with.loss.has_value(), "labels given -> the output must carry a loss");
  // Small random weights make the distribution almost uniform: loss ~ ln(1000) = 6.9.
  CHECK_MESSAGE(*with.loss == doctest::Approx(std::log(1000.0f)).epsilon(0.05),
                "a near-uniform random model scores about ln(vocab_size): forward's loss is cross_entropy(logits, "
                "labels), without shifting the labels again");
  CHECK_MESSAGE(llm::testing::compare(with.logits, without.logits).max_abs == 0.0f,
                "labels only add a loss; they must not change the logits");
}

// ================================================================================================
// Exercise 2: the sampler, one hand-checked row each (no model needed)
// ================================================================================================

TEST_CASE("step 6: repetition penalty divides positive logits and multiplies negative ones") {
  std::vector<float> row = {2.0f, -2.0f, 1.0f, 0.5f};
  const Ids history = {0, 1, -1, 9};  // -1 and 9 are outside [0, 4): skipped
  llm::apply_repetition_penalty(row, history, 2.0f);
  CHECK_MESSAGE(row == std::vector<float>({1.0f, -4.0f, 1.0f, 0.5f}),
                "seen tokens: a positive logit is divided (2 / 2 = 1), a negative one multiplied (-2 * 2 = -4); "
                "unseen tokens and ids outside [0, V) are left alone");

  std::vector<float> same = {2.0f, -2.0f};
  llm::apply_repetition_penalty(same, Ids{0, 1}, 1.0f);
  CHECK_MESSAGE(same == std::vector<float>({2.0f, -2.0f}), "penalty 1 changes nothing");
}

TEST_CASE("step 6: a token seen three times is penalised once") {
  std::vector<float> row = {8.0f, -1.0f};
  llm::apply_repetition_penalty(row, Ids{0, 0, 0, 1, 1}, 2.0f);
  CHECK_MESSAGE(row == std::vector<float>({4.0f, -2.0f}),
                "once per distinct token: 8 / 2 = 4 (not 8 / 8) and -1 * 2 = -2 (not -4)");
}

TEST_CASE("step 7: temperature divides every logit and keeps -inf") {
  std::vector<float> row = {2.0f, -1.0f, 0.5f, -kInf};
  llm::apply_temperature(row, 0.5f);
  CHECK_MESSAGE(row == std::vector<float>({4.0f, -2.0f, 1.0f, -kInf}),
                "logits are divided by the temperature (2 / 0.5 = 4); a filtered (-inf) logit stays -inf");
  std::vector<float> other = {1.0f, 2.0f};
  const std::string msg = error_message<InvalidArgument>([&] { llm::apply_temperature(other, 0.0f); });
  CHECK_MESSAGE(llm::testing::contains(msg, "0"),
                "temperature 0 is greedy: apply_temperature must refuse to divide by it, naming the value");
}

TEST_CASE("step 8: top-k keeps the k largest logits with ties going to the lower id") {
  const std::vector<float> base = {1.0f, 5.0f, 3.0f, 5.0f, 2.0f};
  auto two = base;
  llm::apply_top_k(two, 2);
  CHECK_MESSAGE(kept_ids(two) == Ids({1, 3}), "top-k 2 keeps the two largest (ids 1 and 3)");
  CHECK_MESSAGE(two[1] == 5.0f, "kept logits keep their values");
  auto three = base;
  llm::apply_top_k(three, 3);
  CHECK(kept_ids(three) == Ids({1, 2, 3}));

  std::vector<float> ties = {1.0f, 1.0f, 1.0f};
  llm::apply_top_k(ties, 2);
  CHECK_MESSAGE(kept_ids(ties) == Ids({0, 1}), "exactly k survive; on ties the lower id wins");

  auto off = base;
  llm::apply_top_k(off, 0);
  CHECK_MESSAGE(kept_ids(off).size() == 5u, "k <= 0 disables top-k");
  auto all = base;
  llm::apply_top_k(all, 5);
  CHECK_MESSAGE(kept_ids(all).size() == 5u, "k >= V keeps everything");
}

TEST_CASE("step 9: top-p keeps the smallest prefix whose probability reaches p") {
  // Probabilities 0.5 0.25 0.125 0.125 (ids 1, 3, 0, 2): cumulative 0.5 0.75 0.875 1.
  const std::vector<float> base = {std::log(0.125f), std::log(0.5f), std::log(0.125f), std::log(0.25f)};
  const struct {
    float p;
    Ids kept;
  } cases[] = {{0.4f, {1}}, {0.6f, {1, 3}}, {0.8f, {0, 1, 3}}, {1.0f, {0, 1, 2, 3}}};
  for (const auto& c : cases) {
    CAPTURE(c.p);
    auto row = base;
    llm::apply_top_p(row, c.p);
    REQUIRE_MESSAGE(kept_ids(row) == c.kept,
                    "top-p sorts by probability and keeps the smallest prefix whose cumulative probability is >= p");
    for (std::int32_t id : kept_ids(row))
      REQUIRE_MESSAGE(row[static_cast<size_t>(id)] == base[static_cast<size_t>(id)], "kept logits keep their values");
  }
}

TEST_CASE("step 9: a cumulative probability exactly equal to top_p stops the prefix") {
  // Four equal logits: probabilities exactly 0.25, cumulative exactly 0.25 0.5 0.75 1 (binary fractions,
  // exact in float and double). top_p = 0.5 is reached by two tokens: >= keeps 2, > would keep 3.
  for (const auto& [p, n] : {std::pair{0.25f, size_t{1}}, std::pair{0.5f, size_t{2}}, std::pair{0.75f, size_t{3}}}) {
    CAPTURE(p);
    std::vector<float> row = {0.0f, 0.0f, 0.0f, 0.0f};
    llm::apply_top_p(row, p);
    REQUIRE_MESSAGE(kept_ids(row).size() == n,
                    "the prefix stops at the first token whose cumulative probability is >= top_p (not >): "
                    "0.25 + 0.25 = 0.5 reaches 0.5");
  }
}

TEST_CASE("step 10a: greedy picks the largest logit and the lowest id on ties") {
  CHECK_MESSAGE(llm::select_greedy(std::vector<float>{1.0f, 3.0f, 2.0f}) == 1, "greedy is the argmax");
  CHECK_MESSAGE(llm::select_greedy(std::vector<float>{3.0f, 1.0f, 3.0f}) == 0, "greedy takes the lowest id on ties");
  CHECK_MESSAGE(llm::select_greedy(std::vector<float>{-kInf, -5.0f, -kInf}) == 1,
                "greedy never picks a filtered (-inf) id");
  const std::string msg =
      error_message<InvalidArgument>([] { llm::select_greedy(std::vector<float>{-kInf, -kInf, -kInf}); });
  CHECK_MESSAGE(llm::testing::contains(msg, "-inf"),
                "a row of -inf has no token to choose: InvalidArgument (as select_categorical), not id 0");
}

TEST_CASE("step 10b: the categorical draw follows the CDF at its boundaries") {
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
    const std::int32_t id = llm::select_categorical(four, c.u);
    REQUIRE_MESSAGE(id == c.id, "categorical: the first id whose cumulative probability exceeds u (strictly)");
  }
  // Filtered ids have probability 0 and are never returned: 0.5 for ids 0 and 2.
  const std::vector<float> holes = {0.0f, -kInf, 0.0f, -kInf};
  CHECK(llm::select_categorical(holes, 0.0f) == 0);
  CHECK(llm::select_categorical(holes, std::nextafter(0.5f, 0.0f)) == 0);
  CHECK_MESSAGE(llm::select_categorical(holes, 0.5f) == 2, "a -inf id in between must be skipped");
  CHECK_MESSAGE(llm::select_categorical(holes, std::nextafter(1.0f, 0.0f)) == 2,
                "a trailing -inf id is never returned, even for u close to 1");
}

TEST_CASE("step 11a: validate rejects bad values and accepts a negative temperature") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const struct {
    llm::SamplingParams params;
    const char* value;
  } bad[] = {{{.top_p = 0.0f}, "0"}, {{.top_p = 1.5f}, "1.5"}, {{.repetition_penalty = 0.0f}, "0"},
             {{.temperature = nan}, "nan"}};
  for (const auto& c : bad) {
    CAPTURE(c.value);
    const std::string msg = error_message<InvalidArgument>([&] { llm::validate(c.params); });
    REQUIRE_MESSAGE(llm::testing::contains(msg, c.value),
                    "validate refuses top_p outside (0, 1], a penalty outside its range and a NaN temperature, "
                    "naming the value");
  }
  CHECK_NOTHROW_MESSAGE(llm::validate({.temperature = -1.0f}),
                        "a temperature <= 0 is not invalid: it means greedy (negative values too)");
}

TEST_CASE("step 11b: sample_next with temperature 0 is greedy after the penalty") {
  // Penalty 2 on token 0: 3 -> 1.5, so token 1 (2.9) becomes the largest.
  std::vector<float> row = {3.0f, 2.9f, 1.0f};
  llm::Rng rng(1);
  const auto id = llm::sample_next(row, Ids{0}, {.temperature = 0.0f, .repetition_penalty = 2.0f}, rng);
  CHECK_MESSAGE(id == 1, "the penalty comes before the greedy choice: 3 / 2 = 1.5 < 2.9");
}

TEST_CASE("step 11b: a negative temperature is greedy and draws no random number") {
  std::vector<float> row = {0.5f, 2.0f, 1.0f};
  llm::Rng rng(4), untouched(4);
  const auto id = llm::sample_next(row, {}, {.temperature = -0.5f}, rng);
  CHECK_MESSAGE(id == 1, "temperature <= 0 (-0.5 here) means greedy: the argmax, without an error");
  CHECK_MESSAGE(rng.next_u64() == untouched.next_u64(), "greedy must not consume a random number");
}

TEST_CASE("step 11b: sample_next draws with rng.uniform from the filtered distribution") {
  // Four equal logits with top-k off: the draw is id floor(4u) for u = the next rng.uniform().
  std::vector<std::int32_t> got, expected;
  for (std::uint64_t seed = 0; seed < 8; ++seed) {
    llm::Rng rng(seed), copy(seed);
    std::vector<float> row = {0.0f, 0.0f, 0.0f, 0.0f};
    expected.push_back(static_cast<std::int32_t>(std::floor(4.0f * copy.uniform())));
    got.push_back(llm::sample_next(row, {}, {.temperature = 1.0f, .top_k = 0}, rng));
  }
  CHECK_MESSAGE(got == expected, "sample_next must draw exactly one rng.uniform() and pick by the CDF");
  // Top-k 1 leaves one token: every draw returns it.
  llm::Rng rng(3);
  std::vector<std::int32_t> top1;
  for (int i = 0; i < 10; ++i) {
    std::vector<float> row = {0.1f, 0.3f, 0.2f};
    top1.push_back(llm::sample_next(row, {}, {.temperature = 1.0f, .top_k = 1}, rng));
  }
  CHECK_MESSAGE(top1 == std::vector<std::int32_t>(10, 1), "top-k 1 leaves only the argmax");
}

// ================================================================================================
// Exercise 3: generation
// ================================================================================================

TEST_CASE("step 12: prefill feeds every token and a decode step only the new one") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor seq = sample_ids(1, 6, cfg.vocab_size);
  const llm::GenerationInputs first = model.prepare_inputs_for_generation(seq, nullptr);
  CHECK_MESSAGE(row_tokens(first.input_ids, 0) == row_tokens(seq, 0), "no cache: every token is new");
  CHECK_MESSAGE(row_tokens(first.position_ids, 0) == Ids({0, 1, 2, 3, 4, 5}), "no cache: positions 0..5");
  const auto prefill = std::make_shared<llm::KVCache>(cfg, 1, 16);
  model.forward(lesson04_test::columns(seq, 0, 5), {.past_key_values = prefill, .use_cache = true});
  const llm::GenerationInputs step = model.prepare_inputs_for_generation(seq, prefill.get());
  CHECK_MESSAGE(row_tokens(step.input_ids, 0) == Ids({seq(0, 5)}),
                "only the tokens not yet in the cache are fed: 5 cached of 6 -> the last one");
  CHECK_MESSAGE(row_tokens(step.position_ids, 0) == Ids({5}), "its position continues from the cache length");
  CHECK_MESSAGE(row_tokens(step.attention_mask, 0) == Ids(6, 1), "the mask covers cached and new tokens");
}

TEST_CASE("step 13a: max_new_tokens 0 returns the prompt unchanged") {
  const ModelConfig cfg = ModelConfig::lesson();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(2, 4, cfg.vocab_size);
  const IdTensor seq = model.generate(prompt, {.max_new_tokens = 0});
  REQUIRE_MESSAGE(seq.shape() == Shape({2, 4}), "no new token: the result is the (B, prompt) prompt itself");
  CHECK(row_tokens(seq, 0) == row_tokens(prompt, 0));
  CHECK(row_tokens(seq, 1) == row_tokens(prompt, 1));
}

TEST_CASE("step 13b: the first new token is the argmax of the prompt's last logits") {
  const ModelConfig cfg = lesson04_test::varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 5, cfg.vocab_size);
  const IdTensor seq = model.generate(prompt, {.max_new_tokens = 1, .sampling = {.temperature = 0.0f}});
  REQUIRE_MESSAGE(seq.shape() == Shape({1, 6}), "generate returns the prompt followed by the new token");
  CHECK_MESSAGE(row_tokens(lesson04_test::columns(seq, 0, 5), 0) == row_tokens(prompt, 0),
                "the output starts with the prompt, unchanged");
  CHECK_MESSAGE(row_tokens(seq, 0, 5) == greedy_by_hand(model, prompt, 1),
                "temperature 0 is greedy: the first new token is the argmax of the prefill's last position");
}

TEST_CASE("step 13c: greedy generate of 5 + 10 equals a hand-written argmax loop") {
  const ModelConfig cfg = lesson04_test::varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 5, cfg.vocab_size);
  const IdTensor seq = model.generate(prompt, {.max_new_tokens = 10, .sampling = {.temperature = 0.0f}});
  REQUIRE_MESSAGE(seq.shape() == Shape({1, 15}), "generate returns the prompt followed by max_new_tokens new tokens");
  CHECK_MESSAGE(row_tokens(seq, 0, 0).front() == prompt(0, 0), "the output must start with the prompt, unchanged");
  CHECK_MESSAGE(row_tokens(seq, 0, 5) == greedy_by_hand(model, prompt, 10),
                "each step feeds the token just chosen at the next position and takes the argmax of its logits");
}

TEST_CASE("step 13d: a single row stops right after it emits eos") {
  const ModelConfig cfg = lesson04_test::varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 4, cfg.vocab_size, 60);
  const Ids greedy = greedy_by_hand(model, prompt, 6);
  const std::int32_t eos = greedy[2];  // the third new token (or an earlier one, if it came before)
  const IdTensor seq =
      model.generate(prompt, {.max_new_tokens = 6, .sampling = {.temperature = 0.0f}, .eos_token_id = eos});
  const auto first_eos = std::find(greedy.begin(), greedy.end(), eos);
  const Ids expected(greedy.begin(), first_eos + 1);
  CHECK_MESSAGE(row_tokens(seq, 0, 4) == expected,
                "a row that samples eos keeps it and is finished; with every row finished generation stops");
}

TEST_CASE("step 13e: use_cache false gives the same greedy tokens") {
  const ModelConfig cfg = lesson04_test::varied_config();
  const CausalLM model(cfg, kSeed);
  const IdTensor prompt = sample_ids(1, 4, cfg.vocab_size, 7);
  const llm::GenerateOptions cached{.max_new_tokens = 6, .sampling = {.temperature = 0.0f}};
  llm::GenerateOptions uncached = cached;
  uncached.use_cache = false;
  const IdTensor a = model.generate(prompt, cached), b = model.generate(prompt, uncached);
  CHECK_MESSAGE(row_tokens(b, 0) == row_tokens(a, 0),
                "use_cache = false recomputes the whole sequence every step and must choose the same tokens");
}
