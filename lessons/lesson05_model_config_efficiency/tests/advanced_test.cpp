// advanced_test.cpp — lesson 05's advanced suite: the counts against what really exists — the weights
// a CausalLM allocates, stories260K's checkpoint on disk and the loader's own size rule — Qwen2.5-0.5B's
// numbers (the course's "Qwen3-0.5B"), properties that must hold for any config (chunked prefill = one
// prefill = token-by-token decoding; GQA, tying and depth change the count by exact amounts; intensity
// grows with T and with the batch until the KV cache dominates), 64-bit results and invalid inputs.
// Not here: measured speed (docs/benchmarks.md); the hand-checked values of every step are in basic_test.cpp.
//
// Legend: B batch, T new tokens, P cached positions, S = P + T, C hidden, F intermediate, V vocab,
// L layers, H query heads, KV key/value heads, G = H / KV, D head_dim.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "causal_lm.h"
#include "kv_cache.h"
#include "llm/checkpoint.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "model_stats.h"
#include "roofline.h"
#include "test_support.h"

using llm::CausalLM;
using llm::InvalidArgument;
using llm::ModelConfig;
using llm::Workload;

namespace {

using llm::testing::contains;
using llm::testing::error_message;

// The weights a built model really holds, summed per component over its tensors. A matrix held by two
// members (a tied embedding / LM head) is one allocation: the total counts every tensor object once.
struct Allocated {
  std::int64_t embedding = 0, q = 0, k = 0, v = 0, o = 0, gate = 0, up = 0, down = 0, norms = 0,
               final_norm = 0;
  std::int64_t lm_head = 0;  // 0 when lm_head.weight is the embedding's tensor
  std::int64_t total = 0;    // distinct tensors only
};

Allocated allocated(const CausalLM& m) {
  Allocated a;
  std::set<const llm::Tensor*> seen;
  auto add = [&](const llm::Tensor& t) {
    if (seen.insert(&t).second) a.total += t.numel();
    return t.numel();
  };
  a.embedding = add(*m.embed_tokens.weight);
  for (const llm::DecoderLayer& l : m.layers) {
    a.q += add(*l.self_attn.q_proj.weight);
    a.k += add(*l.self_attn.k_proj.weight);
    a.v += add(*l.self_attn.v_proj.weight);
    a.o += add(*l.self_attn.o_proj.weight);
    a.gate += add(*l.mlp.gate_proj.weight);
    a.up += add(*l.mlp.up_proj.weight);
    a.down += add(*l.mlp.down_proj.weight);
    a.norms += add(l.input_layernorm.weight) + add(l.post_attention_layernorm.weight);
  }
  a.final_norm = add(m.norm.weight);
  const bool shared = m.lm_head.weight.get() == m.embed_tokens.weight.get();
  const std::int64_t head = add(*m.lm_head.weight);
  a.lm_head = shared ? 0 : head;
  return a;
}

// The llama2.c header of a config: a negative vocabulary size announces a separate classifier.
llm::CheckpointHeader llama2c_header(const ModelConfig& c) {
  return {c.hidden_size,
          c.intermediate_size,
          c.num_hidden_layers,
          c.num_attention_heads,
          c.num_key_value_heads,
          c.tie_word_embeddings ? c.vocab_size : -c.vocab_size,
          c.max_position_embeddings};
}

// The cells of a Markdown table row "| a | b |" -> {"a", "b"}.
std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(row);
  while (std::getline(in, cell, '|')) {
    const size_t first = cell.find_first_not_of(' '), last = cell.find_last_not_of(' ');
    if (first != std::string::npos) out.push_back(cell.substr(first, last - first + 1));
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// Qwen2.5-0.5B (the course's "Qwen3-0.5B"): V 151936, C 896, F 4864, L 24, H 14, KV 2, D 64, tied.
//   embedding 151936 x 896 = 136,134,656
//   per layer: q 802,816 + k 114,688 + v 114,688 + o 802,816 = 1,835,008 attention,
//              3 x 4,358,144 = 13,074,432 MLP, 1,792 norms -> 14,911,232;  24 layers = 357,869,568
//   + final norm 896 = 494,005,120. Matmul weights: 24 x 14,909,440 + the head's 136,134,656 = 493,961,216.
constexpr std::int64_t kQwenParams = 494005120;
constexpr std::int64_t kQwenMatmulWeights = 493961216;
constexpr std::int64_t kQwenPerKey = 4 * 24 * 14 * 64;  // 86,016 FLOPs per visible key per token

}  // namespace

// ================================================================================================
// Step 1: parameters against the real allocation, the file on disk and the loader
// ================================================================================================

TEST_CASE("step 1: the count equals the weights a CausalLM really allocates") {
  ModelConfig untied = ModelConfig::stories260k();
  untied.tie_word_embeddings = false;
  ModelConfig mqa = ModelConfig::tiny();
  mqa.num_key_value_heads = 1;
  ModelConfig mha = ModelConfig::tiny();
  mha.num_key_value_heads = mha.num_attention_heads;
  ModelConfig gelu = ModelConfig::lesson();
  gelu.hidden_act = llm::Activation::kGELU;
  ModelConfig deep = ModelConfig::tiny();
  deep.num_hidden_layers = 5;
  const struct {
    const char* name;
    ModelConfig config;
  } cases[] = {{"tiny", ModelConfig::tiny()},
               {"lesson", ModelConfig::lesson()},
               {"stories260K", ModelConfig::stories260k()},
               {"stories260K untied", untied},
               {"tiny MQA", mqa},
               {"tiny MHA", mha},
               {"lesson GeGLU", gelu},
               {"tiny 5 layers", deep}};
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const llm::ParameterCount p = llm::count_parameters(c.config);
    const Allocated a = allocated(CausalLM(c.config, /*seed=*/1));
    const std::int64_t L = c.config.num_hidden_layers;
    CHECK_MESSAGE(p.total() == a.total,
                  "the total must equal the element count of every weight tensor the model holds");
    CHECK_MESSAGE(p.embedding == a.embedding, "embed_tokens is (V, C)");
    CHECK_MESSAGE(L * p.layer.q_proj == a.q, "q_proj is (H*D, C) in every layer");
    CHECK_MESSAGE(L * p.layer.k_proj == a.k, "k_proj is (KV*D, C): GQA shrinks it, MHA (KV = H) does not");
    CHECK_MESSAGE(L * p.layer.v_proj == a.v, "v_proj is (KV*D, C): GQA shrinks it, MHA (KV = H) does not");
    CHECK_MESSAGE(L * p.layer.o_proj == a.o, "o_proj is (C, H*D)");
    CHECK_MESSAGE(L * p.layer.mlp() == a.gate + a.up + a.down,
                  "the MLP holds gate, up and down; GeGLU as many as SwiGLU");
    CHECK_MESSAGE(L * p.layer.norms() == a.norms, "two RMSNorm weight vectors per layer");
    CHECK_MESSAGE(p.final_norm == a.final_norm, "the final norm has C weights");
    CHECK_MESSAGE(p.lm_head == a.lm_head,
                  "the head counts V x C only when it has its own matrix (tied: one shared tensor)");
    CHECK_MESSAGE(p.layers() == a.q + a.k + a.v + a.o + a.gate + a.up + a.down + a.norms,
                  "num_layers x one layer = every layer's weights");
  }
}

TEST_CASE("step 1: stories260K loaded from disk holds exactly the counted parameters" * doctest::test_suite(llm::testing::kModelSuite)) {
  const llm::ParameterCount p = llm::count_parameters(ModelConfig::stories260k());
  CHECK_MESSAGE(p.total() == 260032, "stories260K: 260,032 parameters");
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const llm::Checkpoint ckpt = llm::load_checkpoint(files->checkpoint);
  const CausalLM model = CausalLM::from_checkpoint(ckpt);
  CHECK_MESSAGE(
      llm::count_parameters(ckpt.config).total() == allocated(model).total,
      "the count from the checkpoint's config must equal the weights loaded from it (tied head once)");
  CHECK_MESSAGE(allocated(model).total == 260032, "the loaded model holds 260,032 weights");
}

TEST_CASE("step 1: stories260K's file is the header plus 4 bytes per parameter and per RoPE table entry" * doctest::test_suite(llm::testing::kModelSuite)) {
  const ModelConfig c = ModelConfig::stories260k();
  // 28 + 4 x (260,032 + 2 x 512 positions x D/2 = 4) = 28 + 4 x 264,128 = 1,056,540.
  CHECK_MESSAGE(llm::llama2c_checkpoint_bytes(c) == 1056540,
                "llama2.c v0: 7 int32 header fields, float32 weights, then freq_cis_real and freq_cis_imag "
                "(seq_len x D/2 each), no wcls when the vocabulary size is positive");
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const std::string bytes = llm::testing::read_file(files->checkpoint);
  REQUIRE(bytes.size() >= 28);
  std::int32_t header[7];
  std::memcpy(header, bytes.data(), sizeof header);
  CHECK_MESSAGE(header[5] == 512,
                "stories260K's header has a positive vocabulary size: a tied head, no wcls");
  CHECK_MESSAGE(static_cast<std::int64_t>(std::filesystem::file_size(files->checkpoint)) ==
                    llm::llama2c_checkpoint_bytes(c),
                "the file on disk must have exactly the size the count predicts");
  const llm::Checkpoint ckpt = llm::load_checkpoint(files->checkpoint);
  CHECK_MESSAGE(llm::llama2c_checkpoint_bytes(ckpt.config) == 1056540,
                "the loaded config gives the same size");
}

TEST_CASE("step 1: the llama2.c size agrees with the checkpoint loader's rule for tied and untied headers") {
  ModelConfig stories_untied = ModelConfig::stories260k();
  stories_untied.tie_word_embeddings = false;
  ModelConfig lesson_untied = ModelConfig::lesson();
  lesson_untied.tie_word_embeddings = false;
  const struct {
    const char* name;
    ModelConfig config;
  } cases[] = {{"tiny", ModelConfig::tiny()},
               {"lesson", ModelConfig::lesson()},
               {"lesson untied", lesson_untied},
               {"stories260K untied", stories_untied},
               {"Qwen2.5-0.5B", ModelConfig::qwen2_5_0_5b()}};
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK_MESSAGE(llm::llama2c_checkpoint_bytes(c.config) ==
                      static_cast<std::int64_t>(llm::expected_checkpoint_bytes(llama2c_header(c.config))),
                  "the size must match common/src/checkpoint.cpp's: an untied head adds wcls (V x C floats)");
  }
  // Qwen2.5-0.5B as a llama2.c file: 28 + 4 x (494,005,120 + 2 x 32768 x 32) = 1,984,409,116 bytes.
  CHECK_MESSAGE(llm::llama2c_checkpoint_bytes(ModelConfig::qwen2_5_0_5b()) == 1984409116,
                "sizes near 2 GB must be computed in 64 bits");
}

TEST_CASE("step 1: Qwen2.5-0.5B the course's Qwen3-0.5B has 494005120 parameters") {
  const llm::ParameterCount p = llm::count_parameters(ModelConfig::qwen2_5_0_5b());
  CHECK_MESSAGE(p.embedding == 136134656, "151,936 x 896 embedding rows: over a quarter of the model");
  CHECK_MESSAGE(p.layer.attention() == 1835008,
                "q and o are 896 x 896, k and v only 128 x 896 (2 KV heads of 64)");
  CHECK_MESSAGE(p.layer.mlp() == 13074432, "3 x 896 x 4864: the MLP is 7 times the attention");
  CHECK_MESSAGE(p.layer.total() == 14911232, "one layer: attention + MLP + 2 x 896 norm weights");
  CHECK_MESSAGE(p.total() == kQwenParams, "Qwen2.5-0.5B's config without biases, tied: 494,005,120");
  ModelConfig untied = ModelConfig::qwen2_5_0_5b();
  untied.tie_word_embeddings = false;
  CHECK_MESSAGE(llm::count_parameters(untied).total() == kQwenParams + 136134656,
                "untying would add a second 136 million-weight matrix");
}

TEST_CASE("step 1: grouped-query attention tying and depth change the count by exact amounts") {
  const ModelConfig base = ModelConfig::lesson();  // L 2, H 4, KV 2, D 32, C 128, V 1000
  const llm::ParameterCount p = llm::count_parameters(base);
  ModelConfig mha = base;
  mha.num_key_value_heads = 4;
  CHECK_MESSAGE(llm::count_parameters(mha).total() - p.total() == 2 * 2 * (2 * 32) * 128,
                "going from 2 to 4 KV heads adds 2 layers x (k and v) x 2 more heads x D rows x C");
  ModelConfig untied = base;
  untied.tie_word_embeddings = false;
  CHECK_MESSAGE(llm::count_parameters(untied).total() - p.total() == 1000 * 128,
                "tying removes exactly V x C");
  ModelConfig deep = base;
  deep.num_hidden_layers = 4;
  CHECK_MESSAGE(llm::count_parameters(deep).total() - p.total() == 2 * p.layer.total(),
                "doubling the layers adds L layers and nothing else (embedding, final norm and head stay)");
  ModelConfig wide_mlp = base;
  wide_mlp.intermediate_size = 512;
  CHECK_MESSAGE(llm::count_parameters(wide_mlp).total() - p.total() == 2 * 3 * 128 * 256,
                "F + 256 adds 3 x C x 256 per layer (gate, up and down)");
}

TEST_CASE("step 1: an invalid config is refused with InvalidArgument naming the field") {
  ModelConfig odd = ModelConfig::lesson();
  odd.hidden_size = 130;  // not divisible by 4 heads
  ModelConfig groups = ModelConfig::lesson();
  groups.num_key_value_heads = 3;  // 4 heads are not a multiple of 3
  ModelConfig empty = ModelConfig::lesson();
  empty.vocab_size = 0;
  for (const ModelConfig& c : {odd, groups, empty}) {
    const std::string msg = error_message<InvalidArgument>([&] { llm::count_parameters(c); });
    CAPTURE(msg);
    CHECK_MESSAGE(
        (contains(msg, "hidden_size") || contains(msg, "num_key_value_heads") || contains(msg, "vocab_size")),
        "count_parameters must call config.validate() first, whose message names the field");
    CHECK_THROWS_AS_MESSAGE(llm::llama2c_checkpoint_bytes(c), InvalidArgument,
                            "llama2c_checkpoint_bytes validates the config too");
  }
}

// ================================================================================================
// Step 2: FLOPs — properties and 64 bits
// ================================================================================================

TEST_CASE("step 2: a prefill in chunks costs the same as in one call") {
  for (const ModelConfig& c :
       {ModelConfig::tiny(), ModelConfig::stories260k(), ModelConfig::qwen2_5_0_5b()}) {
    CAPTURE(c.summary());
    const llm::FlopCount whole = llm::forward_flops(c, llm::prefill(100, 2));
    const llm::FlopCount a = llm::forward_flops(c, Workload{.batch = 2, .past = 0, .new_tokens = 30});
    const llm::FlopCount b = llm::forward_flops(c, Workload{.batch = 2, .past = 30, .new_tokens = 45});
    const llm::FlopCount d = llm::forward_flops(c, Workload{.batch = 2, .past = 75, .new_tokens = 25});
    CHECK_MESSAGE(a.matmul + b.matmul + d.matmul == whole.matmul,
                  "matmul FLOPs are per token: chunks add up");
    CHECK_MESSAGE(
        a.attention + b.attention + d.attention == whole.attention,
        "a chunk after P cached positions sees T x P cached keys plus T(T+1)/2 new ones, so chunks add up "
        "to one causal prefill");
  }
}

TEST_CASE("step 2: decoding N tokens one by one costs the FLOPs of a prefill of N") {
  const ModelConfig c = ModelConfig::lesson();
  const llm::Index N = 200;
  llm::FlopCount sum;
  for (llm::Index p = 0; p < N; ++p) {
    const llm::FlopCount step = llm::forward_flops(c, llm::decode_step(p));
    sum.matmul += step.matmul;
    sum.attention += step.attention;
  }
  const llm::FlopCount whole = llm::forward_flops(c, llm::prefill(N));
  CHECK_MESSAGE(sum.matmul == whole.matmul,
                "N decode steps push N tokens through the matrices, like a prefill");
  CHECK_MESSAGE(
      sum.attention == whole.attention,
      "with a KV cache, decode step p sees p + 1 keys: 1 + 2 + ... + N, exactly the prefill's causal count. "
      "The FLOPs are the same; a prefill is faster because it reads the weights once, not N times");
}

TEST_CASE("step 2: Qwen2.5-0.5B FLOPs need 64 bits") {
  const ModelConfig c = ModelConfig::qwen2_5_0_5b();
  const llm::FlopCount one = llm::forward_flops(c, llm::prefill(1));
  CHECK_MESSAGE(one.matmul == 2 * kQwenMatmulWeights,
                "2 FLOPs per matmul weight: the 7 projections of 24 layers and the tied (V, C) head, not the "
                "embedding lookup");
  const llm::FlopCount full = llm::forward_flops(c, llm::prefill(32768));
  CHECK_MESSAGE(full.matmul == 2 * kQwenMatmulWeights * std::int64_t{32768},
                "32,372,242,251,776 matmul FLOPs");
  CHECK_MESSAGE(
      full.attention == kQwenPerKey * (std::int64_t{32768} * 32769 / 2),
      "4 x L x H x D x T(T+1)/2 = 46,180,897,652,736: at 32k tokens attention outweighs the matrices");
  CHECK_MESSAGE(full.total() == 78553139904512, "the total is far beyond 32 bits");
  const llm::FlopCount step = llm::forward_flops(c, llm::decode_step(32767, 4));
  CHECK_MESSAGE(step.attention == 4 * kQwenPerKey * 32768, "the last decode step of a full context, 4 rows");
}

TEST_CASE("step 2: invalid workloads and overflowing lengths raise InvalidArgument naming the value") {
  const ModelConfig c = ModelConfig::tiny();
  std::string msg = error_message<InvalidArgument>(
      [&] { llm::forward_flops(c, Workload{.batch = 1, .past = -1, .new_tokens = 1}); });
  CHECK_MESSAGE(contains(msg, "-1"), "a negative past length must be refused and named (check_workload)");
  msg = error_message<InvalidArgument>(
      [&] { llm::forward_flops(c, Workload{.batch = 0, .past = 0, .new_tokens = 1}); });
  CHECK_MESSAGE(contains(msg, "batch"), "a batch of 0 must be refused (check_workload)");
  msg = error_message<InvalidArgument>(
      [&] { llm::forward_flops(c, Workload{.batch = 1, .past = 0, .new_tokens = 0}); });
  CHECK_MESSAGE(contains(msg, "new_tokens"), "a forward call of 0 tokens must be refused (check_workload)");
  ModelConfig bad = c;
  bad.num_attention_heads = 3;  // 32 is not divisible by 3
  CHECK_THROWS_AS_MESSAGE(llm::forward_flops(bad, llm::prefill(1)), InvalidArgument,
                          "the config is validated first");
  msg = error_message<InvalidArgument>(
      [&] { llm::forward_flops(ModelConfig::qwen2_5_0_5b(), llm::prefill(std::int64_t{1} << 32)); });
  CHECK_MESSAGE(
      contains(msg, "64 bits"),
      "T = 2^32 makes T(T+1) overflow 64 bits: checked_mul must refuse it instead of wrapping around");
  msg = error_message<InvalidArgument>(
      [&] { llm::forward_flops(c, llm::prefill(1, std::int64_t{1} << 62)); });
  CHECK_MESSAGE(contains(msg, "64 bits"), "a batch of 2^62 rows overflows the matmul FLOPs: refuse it");
}

// ================================================================================================
// Step 3: memory — GQA, precision, the attention scores, 64 bits
// ================================================================================================

TEST_CASE("step 3: GQA divides the KV cache by the group count and fp16 halves every byte count") {
  ModelConfig mha = ModelConfig::qwen2_5_0_5b();
  mha.num_key_value_heads = mha.num_attention_heads;    // 14: multi-head attention
  const ModelConfig gqa = ModelConfig::qwen2_5_0_5b();  // 2 KV heads: groups of 7
  const Workload w = llm::prefill(4096);
  CHECK_MESSAGE(llm::memory_estimate(mha, w, 2).kv_cache == 7 * llm::memory_estimate(gqa, w, 2).kv_cache,
                "the cache holds KV heads only: 14 / 2 = 7 times smaller with GQA");
  const llm::MemoryEstimate fp32 = llm::memory_estimate(gqa, w, 4);
  const llm::MemoryEstimate fp16 = llm::memory_estimate(gqa, w, 2);
  CHECK_MESSAGE(fp32.weights == 2 * fp16.weights, "weights scale with the bytes per value");
  CHECK_MESSAGE(fp32.kv_cache == 2 * fp16.kv_cache, "the KV cache scales with the bytes per value");
  CHECK_MESSAGE(fp32.activations == 2 * fp16.activations, "activations scale with the bytes per value");
  CHECK_MESSAGE(fp32.activation_values.peak() == fp16.activation_values.peak(),
                "the value counts do not depend on the bytes");
}

TEST_CASE("step 3: Qwen2.5-0.5B in bf16 at 32768 positions") {
  const ModelConfig c = ModelConfig::qwen2_5_0_5b();
  const llm::MemoryEstimate m = llm::memory_estimate(c, llm::decode_step(32767), 2);
  CHECK_MESSAGE(m.weights == 988010240, "494,005,120 parameters x 2 bytes = 942 MiB");
  CHECK_MESSAGE(m.kv_cache == 402653184,
                "2 x 24 layers x 2 KV heads x 64 x 32768 positions x 2 bytes = 384 MiB");
  CHECK_MESSAGE(m.activation_values.attention == 896 + 2 * 896 + 14 * 32768,
                "a decode step's scores are (1, 14, 1, 32768): small next to a prefill's");
  CHECK_MESSAGE(llm::memory_estimate(c, llm::prefill(1), 8).weights == 3952040960,
                "8 bytes per value: 3,952,040,960 bytes, more than 2^32: the byte count must be 64-bit");
}

TEST_CASE("step 3: the attention scores grow with T x S and dominate a long prefill") {
  const ModelConfig c = ModelConfig::qwen2_5_0_5b();
  const llm::MemoryEstimate m1 = llm::memory_estimate(c, llm::prefill(1024), 2);
  const llm::MemoryEstimate m2 = llm::memory_estimate(c, llm::prefill(2048), 2);
  const std::int64_t scores1 = 14 * std::int64_t{1024} * 1024, scores2 = 14 * std::int64_t{2048} * 2048;
  CHECK_MESSAGE(m1.activation_values.attention - 1024 * (896 + 2 * 896) == scores1,
                "a prefill of T tokens holds (B, H, T, T) scores: 14 x 1024 x 1024");
  CHECK_MESSAGE(m2.activation_values.attention - scores2 == 2 * (m1.activation_values.attention - scores1),
                "doubling T doubles the per-token tensors ...");
  CHECK_MESSAGE(scores2 == 4 * scores1, "... and quadruples the scores");
  const llm::MemoryEstimate full = llm::memory_estimate(c, llm::prefill(32768), 2);
  CHECK_MESSAGE(full.activation_values.attention == 32768 * std::int64_t{2688} + 15032385536,
                "14 x 32768 x 32768 = 15,032,385,536 score values at 32k tokens");
  CHECK_MESSAGE(full.activations > 40 * full.weights,
                "materialised scores of a 32k prefill take over 40 times the weights (FlashAttention never "
                "stores them)");
}

TEST_CASE("step 3: zero or negative bytes per value and bad workloads are refused") {
  const ModelConfig c = ModelConfig::tiny();
  for (std::int64_t bad : {std::int64_t{0}, std::int64_t{-2}, std::int64_t{9}}) {
    CAPTURE(bad);
    const std::string msg =
        error_message<InvalidArgument>([&] { llm::memory_estimate(c, llm::prefill(4), bad); });
    CHECK_MESSAGE(contains(msg, std::to_string(bad)),
                  "bytes_per_value outside [1, 8] must be refused and named");
  }
  const std::string msg =
      error_message<InvalidArgument>([&] { llm::memory_estimate(c, llm::prefill(-3), 4); });
  CHECK_MESSAGE(contains(msg, "-3"), "a negative length must be refused and named");
  CHECK_THROWS_AS_MESSAGE(
      llm::memory_estimate(ModelConfig::qwen2_5_0_5b(), llm::prefill(std::int64_t{1} << 31), 2),
      InvalidArgument, "14 x 2^31 x 2^31 score values overflow 64 bits: refuse, never wrap");
}

// ================================================================================================
// Step 4: arithmetic intensity and the roofline
// ================================================================================================

TEST_CASE("step 4: prefill intensity grows about linearly with T while decode stays near 1 FLOP per byte") {
  const ModelConfig c = ModelConfig::qwen2_5_0_5b();
  for (llm::Index t : {16, 64, 256, 1024}) {
    CAPTURE(t);
    const double i = llm::arithmetic_intensity(c, llm::prefill(t), 2);
    CHECK_MESSAGE(i / static_cast<double>(t) == doctest::Approx(1.0).epsilon(0.05),
                  "fp16 prefill: ~2T FLOPs per weight over 2 bytes per weight -> about T FLOP/byte");
  }
  for (llm::Index p : {0, 127, 1023, 4095}) {
    CAPTURE(p);
    const double i = llm::arithmetic_intensity(c, llm::decode_step(p), 2);
    CHECK_MESSAGE(i > 0.9, "a decode step does 2 FLOPs per weight read, ~1 FLOP/byte at fp16");
    CHECK_MESSAGE(
        i < 1.5,
        "decode stays near 1 FLOP/byte however long the context: it reads every weight for one token");
  }
  CHECK_MESSAGE(
      llm::arithmetic_intensity(c, llm::decode_step(1023), 2) == doctest::Approx(1076002816.0 / 1000593152.0),
      "decode at 1024 positions: 1,076,002,816 FLOPs over 988,010,240 weight + 12,582,912 KV bytes");
  CHECK_MESSAGE(llm::arithmetic_intensity(c, llm::decode_step(1023), 4) ==
                    doctest::Approx(llm::arithmetic_intensity(c, llm::decode_step(1023), 2) / 2.0),
                "fp32 moves twice the bytes for the same FLOPs: half the intensity");
}

TEST_CASE("step 4: batching raises decode intensity until the KV cache dominates") {
  const ModelConfig c = ModelConfig::qwen2_5_0_5b();
  const double one_short = llm::arithmetic_intensity(c, llm::decode_step(127, 1), 2);
  const double many_short = llm::arithmetic_intensity(c, llm::decode_step(127, 64), 2);
  CHECK_MESSAGE(many_short > 50.0 * one_short,
                "at a short context 64 rows share one read of the weights: intensity grows almost 64-fold");
  const double many_long = llm::arithmetic_intensity(c, llm::decode_step(32767, 64), 2);
  CHECK_MESSAGE(
      many_long < 10.0,
      "at 32k positions every row reads its own 384 MiB of KV cache: batching no longer helps much");
  CHECK_MESSAGE(many_long < many_short / 5.0, "a long context caps what batching gains");
}

TEST_CASE("step 4: the verdict flips at the ridge point") {
  const ModelConfig c = ModelConfig::qwen2_5_0_5b();
  const llm::Machine gpu{.peak_flops_per_s = 100e12, .bytes_per_s = 1e12};  // ridge 100 FLOP/byte
  CHECK_MESSAGE(llm::roofline(c, llm::decode_step(1023), 2, gpu).bound == llm::Bound::kMemory,
                "decode at ~1 FLOP/byte is memory-bound on a machine whose ridge is 100");
  CHECK_MESSAGE(llm::roofline(c, llm::prefill(64), 2, gpu).bound == llm::Bound::kMemory,
                "a 64-token prefill (~64 FLOP/byte) is still below the ridge of 100");
  const llm::RooflineEstimate big = llm::roofline(c, llm::prefill(256), 2, gpu);
  CHECK_MESSAGE(big.bound == llm::Bound::kCompute,
                "a 256-token prefill (~258 FLOP/byte) is above it: compute-bound");
  CHECK_MESSAGE(big.seconds == doctest::Approx(static_cast<double>(big.flops) / 100e12),
                "compute-bound: the time is flops / peak");
  const llm::RooflineEstimate step = llm::roofline(c, llm::decode_step(1023), 2, gpu);
  CHECK_MESSAGE(step.seconds == doctest::Approx(1000593152.0 / 1e12),
                "memory-bound: the time is bytes / bandwidth, about 1 ms per token for 1 GB at 1 TB/s");
  const llm::RooflineEstimate at = llm::roofline(ModelConfig::tiny(), llm::decode_step(7), 4,
                                                 {.peak_flops_per_s = 43008.0, .bytes_per_s = 84608.0});
  CHECK_MESSAGE(at.intensity == doctest::Approx(at.ridge), "set up: intensity equal to the ridge");
  CHECK_MESSAGE(at.bound == llm::Bound::kCompute,
                "exactly at the ridge counts as compute-bound (memory-bound is strictly below)");
  for (const llm::Machine& bad : {llm::Machine{.peak_flops_per_s = 0.0, .bytes_per_s = 1.0},
                                  llm::Machine{.peak_flops_per_s = 1.0, .bytes_per_s = -5.0},
                                  llm::Machine{.peak_flops_per_s = 1.0, .bytes_per_s = std::nan("")}}) {
    const std::string msg =
        error_message<InvalidArgument>([&] { llm::roofline(c, llm::prefill(1), 2, bad); });
    CHECK_MESSAGE(
        (contains(msg, "peak_flops_per_s") || contains(msg, "bytes_per_s")),
        "roofline must call check_machine: a machine without a positive peak and bandwidth is refused");
  }
}

// ================================================================================================
// Step 5: the table of the course's configs
// ================================================================================================

TEST_CASE("step 5: the course's four configs with their counts and capped contexts") {
  const std::vector<llm::NamedConfig> configs = {{"tiny", ModelConfig::tiny()},
                                                 {"lesson", ModelConfig::lesson()},
                                                 {"stories260K", ModelConfig::stories260k()},
                                                 {"Qwen3-0.5B", ModelConfig::qwen2_5_0_5b()}};
  const std::string table =
      llm::efficiency_table(configs, {.context = 1024, .batch = 1, .bytes_per_value = 2});
  CAPTURE(table);
  const std::vector<std::string> lines = lines_of(table);
  REQUIRE_MESSAGE(lines.size() == 6, "header, separator and 4 rows");
  const struct {
    const char* name;
    const char* params;
    const char* context;
  } expected[] = {{"tiny", "20,640", "64"},
                  {"lesson", "423,552", "256"},
                  {"stories260K", "260,032", "512"},
                  {"Qwen3-0.5B", "494,005,120", "1024"}};
  for (size_t i = 0; i < 4; ++i) {
    CAPTURE(expected[i].name);
    const std::vector<std::string> row = cells(lines[i + 2]);
    REQUIRE_MESSAGE(row.size() == 9, "nine cells per row");
    CHECK_MESSAGE(row[0] == expected[i].name, "rows keep the order and the names given");
    CHECK_MESSAGE(row[1] == expected[i].params, "parameters with thousands separators (format_count)");
    CHECK_MESSAGE(row[3] == expected[i].context,
                  "the context is capped at the model's max_position_embeddings");
  }
  const std::vector<std::string> qwen = cells(lines[5]);
  CHECK_MESSAGE(qwen[2] == "942 MiB", "bf16 weights of Qwen2.5-0.5B: 988,010,240 bytes (format_bytes)");
  CHECK_MESSAGE(qwen[4] == "12.0 MiB", "the KV cache of 1024 positions at 2 bytes: 12,582,912 bytes");
  CHECK_MESSAGE(qwen[6] == "1.08 G", "the decode step that completes 1024 positions: 1,076,002,816 FLOPs");
  CHECK_MESSAGE(qwen[8] == "1.08", "decode intensity at fp16 is about 1 FLOP/byte");
}

TEST_CASE("step 5: bad options and configs are refused") {
  const std::vector<llm::NamedConfig> configs = {{"tiny", ModelConfig::tiny()}};
  std::string msg = error_message<InvalidArgument>([&] { llm::efficiency_table(configs, {.context = 0}); });
  CHECK_MESSAGE(contains(msg, "context"), "a context of 0 must be refused (check_table_options)");
  msg = error_message<InvalidArgument>([&] { llm::efficiency_table(configs, {.context = 8, .batch = -1}); });
  CHECK_MESSAGE(contains(msg, "-1"), "a negative batch must be refused and named");
  msg = error_message<InvalidArgument>(
      [&] { llm::efficiency_table(configs, {.context = 8, .batch = 1, .bytes_per_value = 0}); });
  CHECK_MESSAGE(contains(msg, "bytes_per_value"), "zero bytes per value must be refused");
  ModelConfig bad = ModelConfig::tiny();
  bad.num_key_value_heads = 3;
  const std::vector<llm::NamedConfig> with_bad = {{"tiny", ModelConfig::tiny()}, {"bad", bad}};
  CHECK_THROWS_AS_MESSAGE(llm::efficiency_table(with_bad), InvalidArgument,
                          "an invalid config in the list is refused");
  const std::vector<llm::NamedConfig> none;
  CHECK_MESSAGE(lines_of(llm::efficiency_table(none)).size() == 2,
                "no configs: the header and separator only");
}
