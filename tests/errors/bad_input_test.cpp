// bad_input_test.cpp — the bad-input table of docs/errors.md, one test case per row, in the table's
// order and under the row's name. Each case checks the exception TYPE and that what() names the
// offending value and the limit it broke. Run with LLM_SHOW_ERRORS=1 to print every message checked.
// Runs against the lesson-04 reference (lesson04::reference) and llm_common.
//
// Legend: B batch, T new tokens, P cached positions, V vocab, C hidden, D head_dim.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <limits>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "causal_lm.h"
#include "kv_cache.h"
#include "llama2c_files.h"
#include "llm/checkpoint.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "llm/model_files.h"
#include "llm/rng.h"
#include "llm/tensor.h"
#include "tokenizer.h"
#include "rope.h"
#include "sampler.h"
#include "test_support.h"

// ---------------------------------------------------------------------------------------------
// Allocation probe: the largest single operator-new request while `armed`. Proves that an absurd
// header is refused before any weight is allocated (std::vector and std::string allocate this way).
// ---------------------------------------------------------------------------------------------
namespace alloc_probe {
std::atomic<bool> armed{false};
std::atomic<std::size_t> largest{0};
}  // namespace alloc_probe

// g++ 12 -O3 flags free() inside these replacements as "mismatched" with the replaced operator new
// (a false positive: both sides of this file use malloc/free).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  if (alloc_probe::armed.load(std::memory_order_relaxed)) {
    std::size_t seen = alloc_probe::largest.load(std::memory_order_relaxed);
    while (n > seen && !alloc_probe::largest.compare_exchange_weak(seen, n)) {
    }
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace fs = std::filesystem;
using llm::CausalLM;
using llm::FormatError;
using llm::IdTensor;
using llm::Index;
using llm::InvalidArgument;
using llm::IoError;
using llm::ModelConfig;
using llm::Shape;
using llm::ShapeError;
using llm::Tensor;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Every part must occur in the message: the value, the limit, the name of the thing.
void check_names(const std::string& what, std::initializer_list<std::string_view> parts) {
  if (what.empty()) return;  // CHECK_THROWS_AS has already failed
  if (std::getenv("LLM_SHOW_ERRORS") != nullptr) std::cout << "  what(): " << what << "\n";
  for (std::string_view part : parts)
    CHECK_MESSAGE(what.find(part) != std::string::npos,
                  "message \"" << what << "\" should contain \"" << part << "\"");
}

}  // namespace

// CHECK_ERROR(Type, expression, "part", ...): the expression throws Type (CHECK_THROWS_AS; llm's error
// types have no subclasses, so that is the exact type) and its what() contains every part. The
// expression runs once.
#define CHECK_ERROR(Type, expr, ...)   \
  do {                                 \
    std::string what_;                 \
    CHECK_THROWS_AS(                   \
        [&] {                          \
          try {                        \
            (void)(expr);              \
          } catch (const Type& e_) {   \
            what_ = e_.what();         \
            throw;                     \
          }                            \
        }(),                           \
        Type);                         \
    check_names(what_, {__VA_ARGS__}); \
  } while (false)

namespace {

// ModelConfig::tiny(): V 64, C 32, 2 layers, 4 heads of D 8, 2 KV heads, 64 positions.
ModelConfig tiny() { return ModelConfig::tiny(); }

const CausalLM& tiny_model() {
  static const CausalLM model(tiny(), /*seed=*/7);
  return model;
}

// (B, T) ids, all valid: (b + 2t + 3) % V.
IdTensor ids(Index batch, Index len) {
  IdTensor out(Shape{batch, len});
  for (Index b = 0; b < batch; ++b)
    for (Index t = 0; t < len; ++t) out(b, t) = static_cast<std::int32_t>((b + 2 * t + 3) % 64);
  return out;
}

using llm::testing::TempDir;

// Runs f (which may throw) with the probe armed; afterwards alloc_probe::largest holds the largest
// single allocation it made.
void with_allocation_probe(const std::function<void()>& f) {
  alloc_probe::largest = 0;
  alloc_probe::armed = true;
  try {
    f();
  } catch (...) {
    alloc_probe::armed = false;
    throw;
  }
  alloc_probe::armed = false;
}

// The probe must see allocations, or the "refused before allocating" checks would pass vacuously.
void require_probe_works() {
  with_allocation_probe([] { std::vector<char> big(std::size_t{2} << 20); });
  REQUIRE_MESSAGE(alloc_probe::largest >= (std::size_t{2} << 20), "the operator-new probe is not in use");
}

constexpr std::size_t kOneMiB = std::size_t{1} << 20;

std::string str(long long v) { return std::to_string(v); }

}  // namespace

// =============================================================================================
// ModelConfig (validate(); every CausalLM and KVCache constructor calls it first)
// =============================================================================================

TEST_CASE("config hidden_size not divisible by num_attention_heads") {
  ModelConfig c = tiny();
  c.hidden_size = 30;  // 30 / 4 heads
  CHECK_ERROR(InvalidArgument, c.validate(), "hidden_size = 30", "divisible by num_attention_heads = 4");
  CHECK_ERROR(InvalidArgument, CausalLM(c), "hidden_size = 30", "num_attention_heads = 4");
}

TEST_CASE("config num_attention_heads not divisible by num_key_value_heads") {
  ModelConfig c = tiny();
  c.num_key_value_heads = 3;  // 4 query heads cannot be shared by 3 KV heads
  CHECK_ERROR(InvalidArgument, c.validate(), "num_attention_heads = 4",
              "divisible by num_key_value_heads = 3");
  CHECK_ERROR(InvalidArgument, CausalLM(c), "num_attention_heads = 4", "num_key_value_heads = 3");
}

TEST_CASE("config size zero or negative") {
  struct Field {
    const char* name;
    int ModelConfig::*member;
  };
  const Field fields[] = {{"vocab_size", &ModelConfig::vocab_size},
                          {"hidden_size", &ModelConfig::hidden_size},
                          {"intermediate_size", &ModelConfig::intermediate_size},
                          {"num_hidden_layers", &ModelConfig::num_hidden_layers},
                          {"num_attention_heads", &ModelConfig::num_attention_heads},
                          {"num_key_value_heads", &ModelConfig::num_key_value_heads},
                          {"max_position_embeddings", &ModelConfig::max_position_embeddings}};
  for (const Field& f : fields) {
    for (int bad : {0, -1, INT_MIN}) {
      CAPTURE(f.name);
      CAPTURE(bad);
      ModelConfig c = tiny();
      c.*f.member = bad;
      const std::string value = std::string(f.name) + " = " + std::to_string(bad);
      CHECK_ERROR(InvalidArgument, c.validate(), value, "must be > 0");
    }
  }
}

TEST_CASE("config rms_norm_eps zero negative NaN or infinite") {
  for (float bad : {0.0f, -1e-5f, kNaN, kInf}) {
    CAPTURE(bad);
    ModelConfig c = tiny();
    c.rms_norm_eps = bad;
    std::ostringstream value;
    value << "rms_norm_eps = " << bad;
    CHECK_ERROR(InvalidArgument, c.validate(), value.str(), "must be finite and > 0");
  }
}

TEST_CASE("config rope_theta zero negative NaN or infinite") {
  for (float bad : {0.0f, -10000.0f, kNaN, kInf}) {
    CAPTURE(bad);
    ModelConfig c = tiny();
    c.rope_theta = bad;
    std::ostringstream value;
    value << "rope_theta = " << bad;
    CHECK_ERROR(InvalidArgument, c.validate(), value.str(), "must be finite and > 0");
  }
}

TEST_CASE("config odd head_dim with RoPE") {
  ModelConfig c = tiny();
  c.hidden_size = 12;  // 12 / 4 heads = head_dim 3
  CHECK_ERROR(InvalidArgument, c.validate(), "head_dim = hidden_size / num_attention_heads = 3",
              "must be even");
  CHECK_ERROR(InvalidArgument, llm::RotaryEmbedding(3, 8, 10000.0f), "RoPE head_dim = 3",
              "must be even and > 0");
}

TEST_CASE("config bos or eos id outside the vocabulary") {
  ModelConfig c = tiny();
  c.eos_token_id = 64;
  CHECK_ERROR(InvalidArgument, c.validate(), "eos_token_id = 64", "out of range [0, 64)");
  c = tiny();
  c.bos_token_id = -1;
  CHECK_ERROR(InvalidArgument, c.validate(), "bos_token_id = -1", "out of range [0, 64)");
}

TEST_CASE("config initializer_range negative or NaN") {
  for (float bad : {-0.02f, kNaN}) {
    CAPTURE(bad);
    ModelConfig c = tiny();
    c.initializer_range = bad;
    std::ostringstream value;
    value << "initializer_range = " << bad;
    CHECK_ERROR(InvalidArgument, c.validate(), value.str(), "must be finite and >= 0");
  }
}

// =============================================================================================
// CausalLM::forward (check_forward_inputs in lessons/lesson04_kv_cache_causallm/given.cpp)
// =============================================================================================

TEST_CASE("forward empty batch or empty sequence") {
  const CausalLM& m = tiny_model();
  CHECK_ERROR(ShapeError, m.forward(IdTensor(Shape{0, 3})),
              "input_ids must be a non-empty (batch, seq) tensor", "got (0, 3)");
  CHECK_ERROR(ShapeError, m.forward(IdTensor(Shape{2, 0})), "non-empty", "got (2, 0)");
  CHECK_ERROR(ShapeError, m.forward(IdTensor(Shape{3}, 1)), "(batch, seq)", "got (3)");
  CHECK_ERROR(ShapeError, m.forward(IdTensor()), "(batch, seq)", "got ()");
}

TEST_CASE("forward token id negative or not below vocab_size") {
  const CausalLM& m = tiny_model();
  IdTensor x = ids(2, 3);
  x(1, 2) = 64;
  CHECK_ERROR(InvalidArgument, m.forward(x), "token id 64 at (1, 2)", "out of range [0, 64)");
  x(1, 2) = 5;
  x(0, 1) = -1;
  CHECK_ERROR(InvalidArgument, m.forward(x), "token id -1 at (0, 1)", "out of range [0, 64)");
}

TEST_CASE("forward cached plus new length beyond max_position_embeddings") {
  const CausalLM& m = tiny_model();
  CHECK_ERROR(InvalidArgument, m.forward(ids(1, 65)), "sequence length 65 (0 cached + 65 new)",
              "exceeds max_position_embeddings = 64");
  // With a cache: its capacity (at most max_position_embeddings) is the limit that is hit first.
  auto cache = std::make_shared<llm::KVCache>(tiny(), 1, 64);
  m.forward(ids(1, 60), {.past_key_values = cache, .use_cache = true});
  REQUIRE(cache->seq_length() == 60);
  CHECK_ERROR(InvalidArgument, m.forward(ids(1, 5), {.past_key_values = cache, .use_cache = true}),
              "60 cached + 5 new positions", "exceed the cache capacity 64");
  CHECK(cache->seq_length() == 60);  // the refused call left the cache untouched
  // The generation path says the same in its own words.
  CHECK_ERROR(InvalidArgument, m.generate(ids(1, 3), {.max_new_tokens = 62}),
              "prompt of 3 tokens + max_new_tokens 62", "= 65 exceeds max_position_embeddings = 64");
}

TEST_CASE("forward attention_mask of the wrong shape") {
  const CausalLM& m = tiny_model();
  const IdTensor mask(Shape{2, 4}, 1);  // T = 3 new tokens, no cache: (2, 3) expected
  CHECK_ERROR(ShapeError, m.forward(ids(2, 3), {.attention_mask = &mask}), "attention_mask has shape (2, 4)",
              "expected (2, 3)");
  // With a cache the mask covers the cached positions too: (B, P + T).
  auto cache = std::make_shared<llm::KVCache>(tiny(), 2, 16);
  m.forward(ids(2, 3), {.past_key_values = cache, .use_cache = true});
  const IdTensor short_mask(Shape{2, 1}, 1);
  CHECK_ERROR(ShapeError, m.forward(ids(2, 1), {.attention_mask = &short_mask, .past_key_values = cache, .use_cache = true}),
              "attention_mask has shape (2, 1)", "expected (2, 4)");
}

TEST_CASE("forward attention_mask value other than 0 or 1") {
  const CausalLM& m = tiny_model();
  IdTensor mask(Shape{1, 3}, 1);
  mask(0, 1) = 2;
  CHECK_ERROR(InvalidArgument, m.forward(ids(1, 3), {.attention_mask = &mask}), "attention_mask(0, 1) = 2",
              "must be 0 or 1");
}

TEST_CASE("forward position_ids of the wrong shape") {
  const CausalLM& m = tiny_model();
  const IdTensor pos(Shape{1, 2}, 0);
  CHECK_ERROR(ShapeError, m.forward(ids(1, 3), {.position_ids = &pos}), "position_ids has shape (1, 2)",
              "expected (1, 3)");
}

TEST_CASE("forward position id negative or not below max_position_embeddings") {
  const CausalLM& m = tiny_model();
  IdTensor pos(Shape{1, 3}, 0);
  pos(0, 2) = 64;
  CHECK_ERROR(InvalidArgument, m.forward(ids(1, 3), {.position_ids = &pos}), "position_ids(0, 2) = 64",
              "out of range [0, max_position_embeddings = 64)");
  pos(0, 2) = -1;
  CHECK_ERROR(InvalidArgument, m.forward(ids(1, 3), {.position_ids = &pos}), "position_ids(0, 2) = -1",
              "out of range [0, max_position_embeddings = 64)");
}

TEST_CASE("forward labels of the wrong shape") {
  const CausalLM& m = tiny_model();
  const IdTensor labels(Shape{1, 4}, 0);
  CHECK_ERROR(ShapeError, m.forward(ids(1, 3), {.labels = &labels}), "labels has shape (1, 4)",
              "expected (1, 3)");
}

TEST_CASE("forward label outside the vocabulary other than -100") {
  const CausalLM& m = tiny_model();
  IdTensor labels(Shape{1, 3}, -100);
  labels(0, 0) = 5;
  CHECK_NOTHROW(m.forward(ids(1, 3), {.labels = &labels}));  // -100 is the ignore index
  labels(0, 2) = 64;
  CHECK_ERROR(InvalidArgument, m.forward(ids(1, 3), {.labels = &labels}), "label 64 at (0, 2)",
              "out of range [0, 64)", "ignore index -100");
  labels(0, 2) = -1;
  CHECK_ERROR(InvalidArgument, m.forward(ids(1, 3), {.labels = &labels}), "label -1 at (0, 2)", "-100");
}

TEST_CASE("forward cache from a model with another layer count") {
  ModelConfig other = tiny();
  other.num_hidden_layers = 3;
  auto cache = std::make_shared<llm::KVCache>(other, 1, 8);
  CHECK_ERROR(InvalidArgument, tiny_model().forward(ids(1, 2), {.past_key_values = cache, .use_cache = true}),
              "past_key_values has 3 layers", "the model has 2", "another model");
}

TEST_CASE("forward cache from a model with other KV heads or head_dim") {
  ModelConfig heads = tiny();
  heads.num_key_value_heads = 4;  // MHA cache for a GQA model
  auto cache = std::make_shared<llm::KVCache>(heads, 1, 8);
  CHECK_ERROR(InvalidArgument, tiny_model().forward(ids(1, 2), {.past_key_values = cache, .use_cache = true}),
              "past_key_values holds 4 KV heads of dim 8", "the model has 2 of dim 8");
  ModelConfig dim = tiny();
  dim.hidden_size = 64;  // head_dim 16
  auto wide = std::make_shared<llm::KVCache>(dim, 1, 8);
  CHECK_ERROR(InvalidArgument, tiny_model().forward(ids(1, 2), {.past_key_values = wide, .use_cache = true}),
              "past_key_values holds 2 KV heads of dim 16", "the model has 2 of dim 8");
}

TEST_CASE("forward cache made for another batch size") {
  auto cache = std::make_shared<llm::KVCache>(tiny(), 2, 8);
  CHECK_ERROR(InvalidArgument, tiny_model().forward(ids(1, 2), {.past_key_values = cache, .use_cache = true}),
              "past_key_values was made for batch size 2", "input_ids has 1 rows");
}

TEST_CASE("forward attention_mask row that is all padding") {
  const CausalLM& m = tiny_model();
  IdTensor mask(Shape{2, 3}, 1);
  mask(1, 0) = mask(1, 1) = mask(1, 2) = 0;
  CHECK_ERROR(InvalidArgument, m.forward(ids(2, 3), {.attention_mask = &mask}),
              "attention_mask row 1 is all padding");
  CHECK_ERROR(InvalidArgument, m.generate(ids(2, 3), {.max_new_tokens = 2, .attention_mask = &mask}),
              "attention_mask row 1 is all padding");
}

TEST_CASE("forward KV cache of zero or too large capacity or cropped past its length") {
  CHECK_ERROR(InvalidArgument, llm::KVCache(tiny(), 1, 65), "KV cache capacity 65",
              "exceeds max_position_embeddings = 64");
  CHECK_ERROR(InvalidArgument, llm::KVCache(tiny(), 1, 0), "capacity 0", "must all be > 0");
  CHECK_ERROR(InvalidArgument, llm::KVCache(tiny(), 0, 8), "(batch 0", "must all be > 0");
  llm::KVCache cache(tiny(), 1, 8);
  CHECK_ERROR(InvalidArgument, cache.crop(5), "crop to 5 positions", "the cache holds 0");
}

// =============================================================================================
// generate() options and the sampler (check_generate_inputs, validate, sample_next, select_*)
// =============================================================================================

TEST_CASE("generate temperature NaN or infinite") {
  for (float bad : {kNaN, kInf, -kInf}) {
    CAPTURE(bad);
    std::ostringstream value;
    value << "temperature = " << bad;
    CHECK_ERROR(InvalidArgument, tiny_model().generate(ids(1, 2), {.max_new_tokens = 1, .sampling = {.temperature = bad}}),
                value.str(), "must be a finite number");
    CHECK_ERROR(InvalidArgument, llm::validate(llm::SamplingParams{.temperature = bad}), value.str(),
                "finite");
    std::vector<float> logits = {0.0f, 1.0f, 2.0f};
    llm::Rng rng(1);
    CHECK_ERROR(InvalidArgument, llm::sample_next(logits, {}, {.temperature = bad}, rng), value.str(),
                "finite");
  }
  std::vector<float> logits = {0.0f, 1.0f};
  CHECK_ERROR(InvalidArgument, llm::apply_temperature(logits, 0.0f), "apply_temperature: temperature = 0",
              "must be finite and > 0", "use greedy for 0");
}

TEST_CASE("generate top_p zero negative above one or NaN") {
  for (float bad : {1.5f, 0.0f, -0.1f, kNaN}) {
    CAPTURE(bad);
    std::ostringstream value;
    value << "top_p = " << bad;
    CHECK_ERROR(InvalidArgument, tiny_model().generate(ids(1, 2), {.max_new_tokens = 1, .sampling = {.top_p = bad}}),
                value.str(), "must be in (0, 1]");
    CHECK_ERROR(InvalidArgument, llm::validate(llm::SamplingParams{.top_p = bad}), value.str(), "(0, 1]");
  }
  CHECK_ERROR(InvalidArgument, llm::validate(llm::SamplingParams{.top_p = 1.5f}),
              "top_p = 1.5 must be in (0, 1]");
}

TEST_CASE("generate repetition_penalty outside its range or NaN") {
  for (float bad : {0.0f, -1.0f, 1e-38f, 1e-4f, 1e4f, kNaN, kInf}) {
    CAPTURE(bad);
    const std::string value = "repetition_penalty = " + llm::detail::concat(bad);
    CHECK_ERROR(InvalidArgument,
                tiny_model().generate(ids(1, 2), {.max_new_tokens = 1, .sampling = {.repetition_penalty = bad}}),
                value, "must be in [0.001, 1000]");
    std::vector<float> logits = {0.0f, 1.0f, 2.0f};
    llm::Rng rng(1);
    const std::int32_t history[] = {1};
    CHECK_ERROR(InvalidArgument, llm::sample_next(logits, history, {.repetition_penalty = bad}, rng), value,
                "[0.001, 1000]");
  }
}

TEST_CASE("generate negative max_new_tokens") {
  CHECK_ERROR(InvalidArgument, tiny_model().generate(ids(1, 2), {.max_new_tokens = -1}),
              "max_new_tokens = -1", "must be >= 0");
  CHECK_ERROR(InvalidArgument, tiny_model().generate(ids(1, 2), {.max_new_tokens = INT_MIN}),
              "max_new_tokens = " + str(INT_MIN), ">= 0");
}

TEST_CASE("generate eos or pad id outside the vocabulary") {
  CHECK_ERROR(InvalidArgument, tiny_model().generate(ids(1, 2), {.max_new_tokens = 1, .eos_token_id = 64}),
              "eos_token_id = 64", "out of range [0, 64)");
  CHECK_ERROR(InvalidArgument, tiny_model().generate(ids(1, 2), {.max_new_tokens = 1, .pad_token_id = 1000}),
              "pad_token_id = 1000", "out of range [0, 64)");
  CHECK_ERROR(InvalidArgument, tiny_model().generate(ids(1, 2), {.max_new_tokens = 1, .pad_token_id = -1}),
              "pad_token_id = -1", "out of range [0, 64)");
}

TEST_CASE("generate prompt plus max_new_tokens beyond max_position_embeddings") {
  CHECK_ERROR(InvalidArgument, tiny_model().generate(ids(1, 10), {.max_new_tokens = 55}),
              "prompt of 10 tokens + max_new_tokens 55 = 65", "exceeds max_position_embeddings = 64");
  CHECK_NOTHROW(tiny_model().generate(ids(1, 10), {.max_new_tokens = 54, .sampling = {.temperature = 0.0f}}));
}

TEST_CASE("sampler logits containing NaN") {
  std::vector<float> logits = {0.5f, 1.0f, kNaN, 2.0f};
  llm::Rng rng(3);
  CHECK_ERROR(InvalidArgument, llm::sample_next(logits, {}, {}, rng), "logit at index 2 is NaN");
  CHECK_ERROR(InvalidArgument, llm::sample_next(logits, {}, {.temperature = 0.0f}, rng),
              "logit at index 2 is NaN");
  CHECK_ERROR(InvalidArgument, llm::select_greedy(logits), "logit at index 2 is NaN");
  CHECK_ERROR(InvalidArgument, llm::select_categorical(logits, 0.5f), "logit at index 2 is NaN");
  logits = {kNaN, 0.0f};  // index 0 too (Eigen's maxCoeff skips a NaN anywhere but at index 0)
  CHECK_ERROR(InvalidArgument, llm::select_greedy(logits), "logit at index 0 is NaN");
}

// A +inf logit would make softmax compute inf - inf = NaN: every function that chooses a token refuses
// it, naming its index.
TEST_CASE("sampler logits containing plus infinity") {
  std::vector<float> logits = {0.0f, kInf, 0.0f};
  llm::Rng rng(3);
  CHECK_ERROR(InvalidArgument, llm::select_categorical(logits, 0.5f), "logit at index 1 is +inf");
  CHECK_ERROR(InvalidArgument, llm::select_greedy(logits), "logit at index 1 is +inf");
  CHECK_ERROR(InvalidArgument, llm::apply_top_p(logits, 0.5f), "logit at index 1 is +inf");
  CHECK_ERROR(InvalidArgument, llm::sample_next(logits, {}, {}, rng), "logit at index 1 is +inf");
}

TEST_CASE("sampler empty row of logits") {
  std::vector<float> empty;
  llm::Rng rng(3);
  CHECK_ERROR(InvalidArgument, llm::sample_next(empty, {}, {}, rng), "empty row of logits");
  CHECK_ERROR(InvalidArgument, llm::select_greedy(empty), "empty row of logits");
  CHECK_ERROR(InvalidArgument, llm::select_categorical(empty, 0.5f), "empty row of logits");
}

TEST_CASE("sampler logits all minus infinity") {
  // Nothing left to choose: every function that chooses or normalises refuses it alike.
  std::vector<float> logits = {-kInf, -kInf, -kInf};
  llm::Rng rng(3);
  CHECK_ERROR(InvalidArgument, llm::select_categorical(logits, 0.5f), "all 3 logits are -inf");
  CHECK_ERROR(InvalidArgument, llm::select_greedy(logits), "all 3 logits are -inf");
  CHECK_ERROR(InvalidArgument, llm::apply_top_p(logits, 0.5f), "all 3 logits are -inf");
  CHECK_ERROR(InvalidArgument, llm::sample_next(logits, {}, {}, rng), "all 3 logits are -inf");
}

TEST_CASE("sampler uniform draw negative or not below one") {
  const std::vector<float> logits = {0.0f, 1.0f};
  for (float bad : {1.0f, -0.25f, kNaN}) {
    CAPTURE(bad);
    std::ostringstream value;
    value << "u = " << bad;
    CHECK_ERROR(InvalidArgument, llm::select_categorical(logits, bad), value.str(), "must be in [0, 1)");
  }
}

// =============================================================================================
// Files: load_checkpoint (common/src/checkpoint.cpp), Tokenizer::load (lessons/lesson01_tokenizer_embedding/tokenizer_file.cpp)
// =============================================================================================

TEST_CASE("checkpoint shorter than its header says") {
  TempDir dir;
  const std::string good = llm::files::checkpoint_bytes(llm::files::tiny_header());
  const std::string want = std::to_string(good.size());
  const fs::path short_by_4 = dir.write("short.bin", good.substr(0, good.size() - 4));
  CHECK_ERROR(FormatError, llm::load_checkpoint(short_by_4), short_by_4.string(), "is truncated",
              "header implies " + want + " bytes", "file has " + std::to_string(good.size() - 4));
  const fs::path tiny = dir.write("ten.bin", good.substr(0, 10));
  CHECK_ERROR(FormatError, llm::load_checkpoint(tiny), "is truncated: 10 bytes",
              "shorter than the 28-byte header");
  const fs::path empty = dir.write("empty.bin", "");
  CHECK_ERROR(FormatError, llm::load_checkpoint(empty), "0 bytes", "28-byte header");
  CHECK_NOTHROW(llm::load_checkpoint(dir.write("good.bin", good)));
}

TEST_CASE("checkpoint longer than its header says") {
  TempDir dir;
  const std::string good = llm::files::checkpoint_bytes(llm::files::tiny_header());
  const fs::path p = dir.write("long.bin", good + "xyz");
  CHECK_ERROR(FormatError, llm::load_checkpoint(p), "has 3 trailing bytes",
              "header implies " + str(static_cast<long long>(good.size())),
              "file has " + str(static_cast<long long>(good.size() + 3)));
}

TEST_CASE("checkpoint negative or zero header field") {
  TempDir dir;
  const std::string good = llm::files::checkpoint_bytes(llm::files::tiny_header());
  struct Case {
    std::size_t offset;
    std::int32_t value;
    const char* field;
  };
  const Case cases[] = {{llm::files::kDim, -4, "dim = -4"},
                        {llm::files::kHiddenDim, 0, "hidden_dim = 0"},
                        {llm::files::kLayers, -1, "n_layers = -1"},
                        {llm::files::kHeads, 0, "n_heads = 0"},
                        {llm::files::kKvHeads, -2, "n_kv_heads = -2"},
                        {llm::files::kVocab, 0, "|vocab_size| = 0"},
                        {llm::files::kVocab, INT_MIN, "|vocab_size| = 2147483648"},
                        {llm::files::kSeqLen, INT_MIN, "seq_len = -2147483648"}};
  for (const Case& c : cases) {
    CAPTURE(c.field);
    std::string bytes = good;
    llm::files::patch_i32(bytes, c.offset, c.value);
    const fs::path p = dir.write("bad.bin", bytes);
    CHECK_ERROR(FormatError, llm::load_checkpoint(p), std::string("header field ") + c.field,
                "is out of range [1, ");
  }
  // Fields that are each fine but do not fit together.
  std::string bytes = good;
  llm::files::patch_i32(bytes, llm::files::kKvHeads, 3);  // 2 heads, 3 KV heads
  CHECK_ERROR(FormatError, llm::load_checkpoint(dir.write("kv.bin", bytes)), "n_heads = 2",
              "not divisible by n_kv_heads = 3");
  bytes = good;
  llm::files::patch_i32(bytes, llm::files::kHeads, 4);  // dim 4 / 4 heads = head_size 1
  llm::files::patch_i32(bytes, llm::files::kKvHeads, 4);
  CHECK_ERROR(FormatError, llm::load_checkpoint(dir.write("odd.bin", bytes)),
              "head_size = dim / n_heads = 4 / 4 = 1", "must be even");
  // Each field in range, but a vocabulary of 2 cannot hold BOS (1) and EOS (2): the config says so.
  llm::CheckpointHeader vocab2 = llm::files::tiny_header();
  vocab2.vocab_size = 2;
  CHECK_ERROR(FormatError,
              llm::load_checkpoint(dir.write("vocab2.bin", llm::files::checkpoint_bytes(vocab2))),
              "header gives an invalid model config", "eos_token_id = 2 is out of range [0, 2)");
}

TEST_CASE("checkpoint absurd header values refused before allocating") {
  TempDir dir;
  const std::string good = llm::files::checkpoint_bytes(llm::files::tiny_header());
  std::string bytes = good;
  llm::files::patch_i32(bytes, llm::files::kLayers, 1 << 30);
  const fs::path layers = dir.write("layers.bin", bytes);
  require_probe_works();
  CHECK_ERROR(FormatError, with_allocation_probe([&] { llm::load_checkpoint(layers); }),
              "header field n_layers = 1073741824", "out of range [1, 1024]");
  CHECK_MESSAGE(alloc_probe::largest < kOneMiB,
                "load_checkpoint allocated " << alloc_probe::largest << " bytes for a 2^30-layer header");
  // Every field at its limit: accepted by the header checks, refused by the size check (the file
  // would be 88 TB long) — still before a single weight is allocated.
  bytes = good;
  for (std::size_t f : {llm::files::kDim, llm::files::kHiddenDim, llm::files::kHeads})
    llm::files::patch_i32(bytes, f, llm::kMaxHiddenSize);
  llm::files::patch_i32(bytes, llm::files::kHeads, llm::kMaxHiddenSize / 2);
  llm::files::patch_i32(bytes, llm::files::kKvHeads, 1);
  llm::files::patch_i32(bytes, llm::files::kLayers, llm::kMaxLayers);
  llm::files::patch_i32(bytes, llm::files::kVocab, -llm::kMaxVocabSize);
  llm::files::patch_i32(bytes, llm::files::kSeqLen, llm::kMaxPositions);
  const fs::path huge = dir.write("huge.bin", bytes);
  CHECK_ERROR(FormatError, with_allocation_probe([&] { llm::load_checkpoint(huge); }), "is truncated",
              "header implies", "file has " + std::to_string(bytes.size()));
  CHECK_MESSAGE(alloc_probe::largest < kOneMiB,
                "load_checkpoint allocated " << alloc_probe::largest << " bytes for a huge header");
}

TEST_CASE("checkpoint non-finite weight") {
  TempDir dir;
  std::string bytes = llm::files::checkpoint_bytes(llm::files::tiny_header());
  const float nan = kNaN;
  std::memcpy(&bytes[28 + 4 * 5], &nan, 4);  // token_embedding (3, 4), flat index 5
  CHECK_ERROR(FormatError, llm::load_checkpoint(dir.write("nan.bin", bytes)), "tensor token_embedding (3, 4)",
              "non-finite value (nan) at flat index 5");
}

TEST_CASE("tokenizer piece length running past the end of the file") {
  TempDir dir;
  const auto pieces = llm::files::tokenizer_pieces({"ab", "abc"});  // 261 tokens
  const std::string good = llm::files::tokenizer_bytes(pieces);
  CHECK_NOTHROW(llm::Tokenizer::load(dir.write("good.bin", good), 261));
  // Cut inside the last piece: its length field promises 3 bytes, 1 is left.
  const fs::path cut = dir.write("cut.bin", good.substr(0, good.size() - 2));
  CHECK_ERROR(FormatError, llm::Tokenizer::load(cut, 261), "is truncated at token 260 of 261",
              "its piece needs 3 bytes, 1 left");
  // Cut inside a score/length pair.
  const fs::path pair = dir.write("pair.bin", good.substr(0, good.size() - 7 - 2));
  CHECK_ERROR(FormatError, llm::Tokenizer::load(pair, 261), "is truncated at token 260 of 261",
              "2 bytes left", "need 8");
  // A length field far beyond the file: refused by the max_token_length rule before reading.
  std::string bytes = good;
  llm::files::patch_i32(bytes, good.size() - 3 - 4, 1 << 30);
  CHECK_ERROR(FormatError, llm::Tokenizer::load(dir.write("long.bin", bytes), 261),
              "token 260 has length 1073741824", "outside [0, max_token_length = 6]");
  llm::files::patch_i32(bytes, good.size() - 3 - 4, -1);
  CHECK_ERROR(FormatError, llm::Tokenizer::load(dir.write("neg.bin", bytes), 261), "token 260 has length -1",
              "outside [0, max_token_length = 6]");
  // A vocabulary too large for the file: refused before reserving it.
  require_probe_works();
  const fs::path good_path = dir.write("good2.bin", good);
  CHECK_ERROR(FormatError, with_allocation_probe([&] { llm::Tokenizer::load(good_path, 1 << 20); }),
              "is truncated: 1048576 tokens need at least 8388612 bytes",
              "file has " + std::to_string(good.size()));
  CHECK_MESSAGE(alloc_probe::largest < kOneMiB,
                "Tokenizer::load allocated " << alloc_probe::largest << " bytes for 2^20 tokens");
}

TEST_CASE("tokenizer trailing bytes or corrupt fields") {
  TempDir dir;
  const auto pieces = llm::files::tokenizer_pieces({"ab"});  // 260 tokens
  const std::string good = llm::files::tokenizer_bytes(pieces);
  CHECK_ERROR(FormatError, llm::Tokenizer::load(dir.write("long.bin", good + "zz"), 260),
              "has 2 trailing bytes", "after its 260 tokens");
  std::string bytes = good;
  llm::files::patch_i32(bytes, 0, 0);
  CHECK_ERROR(FormatError, llm::Tokenizer::load(dir.write("max0.bin", bytes), 260), "max_token_length = 0",
              "out of range [1, 1024]");
  bytes = good;
  const float inf = kInf;
  std::memcpy(&bytes[4], &inf, 4);  // token 0's score
  CHECK_ERROR(FormatError, llm::Tokenizer::load(dir.write("inf.bin", bytes), 260),
              "token 0 has a non-finite score inf");
  CHECK_ERROR(FormatError, llm::Tokenizer::load(dir.write("short.bin", std::string("\x06\x00", 2)), 260),
              "2 bytes cannot hold", "4-byte max_token_length");
}

TEST_CASE("tokenizer without the byte pieces") {
  TempDir dir;
  auto pieces = llm::files::tokenizer_pieces();
  pieces[3 + 0x41] = "A";  // <0x41> replaced
  CHECK_ERROR(FormatError,
              llm::Tokenizer::load(dir.write("nobytes.bin", llm::files::tokenizer_bytes(pieces)), 259),
              "token 68 is \"A\"", "expected the byte piece \"<0x41>\"");
  CHECK_ERROR(InvalidArgument, llm::Tokenizer::from_pieces(pieces, std::vector<float>(pieces.size(), 0.0f)),
              "piece 68 is \"A\"", "expected \"<0x41>\"");
}

TEST_CASE("tokenizer vocab_size argument out of range") {
  TempDir dir;
  const fs::path p = dir.write("tok.bin", llm::files::tokenizer_bytes(llm::files::tokenizer_pieces()));
  CHECK_ERROR(InvalidArgument, llm::Tokenizer::load(p, 3), "tokenizer vocab_size = 3",
              "must be in [259, 1048576]");
  CHECK_ERROR(InvalidArgument, llm::Tokenizer::load(p, -1), "tokenizer vocab_size = -1", "[259, 1048576]");
}

TEST_CASE("tokenizer decode of an id outside the vocabulary") {
  const auto pieces = llm::files::tokenizer_pieces({"ab"});
  const llm::Tokenizer tok = llm::Tokenizer::from_pieces(pieces, std::vector<float>(pieces.size(), 0.0f));
  CHECK_ERROR(InvalidArgument, tok.decode({1, 260}), "token id = 260", "out of range [0, 260)");
  CHECK_ERROR(InvalidArgument, tok.decode_piece(1, -1), "token id = -1", "out of range [0, 260)");
}

TEST_CASE("file of the other kind") {
  TempDir dir;
  const fs::path tok =
      dir.write("tok.bin", llm::files::tokenizer_bytes(llm::files::tokenizer_pieces({"ab"})));
  const fs::path ckpt = dir.write("ckpt.bin", llm::files::checkpoint_bytes(llm::files::tiny_header()));
  // A tokenizer's first field (max_token_length 6) reads as dim, its first score (0.0f) as hidden_dim.
  CHECK_ERROR(FormatError, llm::load_checkpoint(tok), "checkpoint " + tok.string(),
              "header field hidden_dim = 0", "out of range [1, 65536]");
  CHECK_ERROR(FormatError, llm::Tokenizer::load(ckpt, 259), "tokenizer " + ckpt.string());
  // The real files, swapped, when they are on disk.
  if (const auto model = llm::find_model()) {
    CHECK_ERROR(FormatError, llm::load_checkpoint(model->tokenizer), "tok512.bin",
                "header field hidden_dim = 0", "out of range [1, 65536]");
    CHECK_ERROR(FormatError, llm::Tokenizer::load(model->checkpoint, 512), "stories260K.bin",
                "token 2 has length", "outside [0, max_token_length = 64]");
  }
}

TEST_CASE("file missing unreadable or a directory") {
  TempDir dir;
  const fs::path missing = dir.path() / "no_such_file.bin";
  CHECK_ERROR(IoError, llm::load_checkpoint(missing), "cannot open checkpoint", missing.string());
  CHECK_ERROR(IoError, llm::Tokenizer::load(missing, 512), "cannot open tokenizer", missing.string());
  CHECK_ERROR(IoError, llm::load_checkpoint(dir.path()), dir.path().string(), "is a directory, not a file");
  CHECK_ERROR(IoError, llm::Tokenizer::load(dir.path(), 512), dir.path().string(),
              "is a directory, not a file");
  CHECK_ERROR(IoError, llm::require_model(dir.path()), "not found; searched:", dir.path().string());
  // Unreadable: only observable when not root (root reads a mode-000 file anyway).
  if (::geteuid() != 0) {
    const fs::path locked = dir.write("locked.bin", llm::files::checkpoint_bytes(llm::files::tiny_header()));
    fs::permissions(locked, fs::perms::none);
    CHECK_ERROR(IoError, llm::load_checkpoint(locked), "cannot open checkpoint", locked.string());
    CHECK_ERROR(IoError, llm::Tokenizer::load(locked, 512), "cannot open tokenizer", locked.string());
    fs::permissions(locked, fs::perms::owner_all);
  }
}

TEST_CASE("file that is a FIFO or a device") {
  // Opening a FIFO for reading blocks until something writes to it: the loaders must refuse it first.
  TempDir dir;
  const fs::path fifo = dir.path() / "model.fifo";
  REQUIRE_MESSAGE(::mkfifo(fifo.c_str(), 0600) == 0, "test setup: mkfifo " << fifo.string());
  CHECK_ERROR(IoError, llm::load_checkpoint(fifo), fifo.string(), "is not a regular file");
  CHECK_ERROR(IoError, llm::Tokenizer::load(fifo, 512), fifo.string(), "is not a regular file");
  CHECK_ERROR(IoError, llm::load_checkpoint("/dev/zero"), "/dev/zero", "is not a regular file");
}

// The CLI rows of the table are ctest tests of the generate program (framework/cli/... in
// tests/CMakeLists.txt and framework/errors/cli/... in tests/errors/CMakeLists.txt), except the two
// below, which need a file made here first.

namespace {
// Runs the generate program (its path comes from the build) with `args`, stdout and stderr together,
// under coreutils' timeout: a hang is exit status 124, not a stuck test.
std::pair<int, std::string> run_generate(const std::string& args) {
  const std::string cmd = "timeout 30 '" LLM_GENERATE_EXE "' " + args + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE_MESSAGE(pipe != nullptr, "test setup: cannot run " << cmd);
  std::string out;
  char buf[4096];
  while (const size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}
}  // namespace

TEST_CASE("cli model file that is a FIFO" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  TempDir dir;
  const fs::path fifo = dir.path() / "stories260K.bin";
  REQUIRE_MESSAGE(::mkfifo(fifo.c_str(), 0600) == 0, "test setup: mkfifo " << fifo.string());
  const auto [rc, out] = run_generate("--model '" + fifo.string() + "' --tokenizer '" + files->tokenizer.string() + "' -n 2");
  CAPTURE(out);
  CHECK_MESSAGE(rc == 1, "a FIFO as --model is a runtime error (exit 1), not a hang (124)");
  CHECK_MESSAGE(llm::testing::contains(out, "is not a regular file"), "the message says what is wrong with the file");
  CHECK_MESSAGE(llm::testing::contains(out, fifo.string()), "the message names the file");
}

TEST_CASE("cli checkpoint whose logits are not finite" * doctest::test_suite(llm::testing::kModelSuite)) {
  // stories260K with its final norm's weights set to 1e38: every weight is finite (the loader accepts
  // it), but the LM head's sums overflow, so the sampler meets +inf or NaN logits at the first step.
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  std::string bytes = llm::testing::read_file(files->checkpoint);
  const llm::Checkpoint ckpt = llm::load_checkpoint(files->checkpoint);
  const llm::ModelConfig& c = ckpt.config;
  const std::size_t C = static_cast<std::size_t>(c.hidden_size), F = static_cast<std::size_t>(c.intermediate_size),
                    L = static_cast<std::size_t>(c.num_hidden_layers), V = static_cast<std::size_t>(c.vocab_size),
                    KVD = static_cast<std::size_t>(c.num_key_value_heads * c.head_dim());
  // Floats before rms_final, in file order: embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3.
  const std::size_t before = V * C + L * (C + C * C + 2 * KVD * C + C * C + C + 3 * F * C);
  for (std::size_t i = 0; i < C; ++i) {
    const float huge = 1e38f;
    std::memcpy(&bytes[28 + 4 * (before + i)], &huge, 4);
  }
  TempDir dir;
  const fs::path bad = dir.write("overflowing.bin", bytes);
  const auto [rc, out] = run_generate("--model '" + bad.string() + "' --tokenizer '" + files->tokenizer.string() + "' -n 2");
  CAPTURE(out);
  CHECK_MESSAGE(rc == 1, "logits the sampler refuses end the program with exit status 1");
  CHECK_MESSAGE(llm::testing::contains(out, bad.string()), "the message names the checkpoint the logits came from");
  CHECK_MESSAGE(llm::testing::contains(out, "logit at index"), "and what the sampler found");
}

TEST_CASE("config size above its upper bound") {
  // A typo like an extra zero must be a named InvalidArgument, not a std::bad_alloc in a constructor.
  llm::ModelConfig big = llm::ModelConfig::tiny();
  big.vocab_size = 1 << 30;
  CHECK_ERROR(InvalidArgument, big.validate(), "vocab_size = 1073741824", "1048576");
  CHECK_ERROR(InvalidArgument, llm::CausalLM(big, 0), "vocab_size = 1073741824");
  llm::ModelConfig many = llm::ModelConfig::tiny();
  many.vocab_size = 1 << 20;
  many.hidden_size = 1 << 14;
  many.num_attention_heads = 1 << 7;
  many.num_key_value_heads = 1 << 7;
  CHECK_ERROR(InvalidArgument, many.validate(), "weights, more than the 2147483648");
}

TEST_CASE("tensor shape whose element count overflows") {
  CHECK_ERROR(llm::ShapeError, llm::Shape({Index{1} << 32, Index{1} << 32}), "4294967296", "element count");
}

TEST_CASE("rotary embedding with a bad theta or head_dim") {
  CHECK_ERROR(InvalidArgument, llm::RotaryEmbedding(8, 16, 0.0f), "RoPE theta = 0");
  CHECK_ERROR(InvalidArgument, llm::RotaryEmbedding(-2, 16, 1e4f), "RoPE head_dim = -2");
}
