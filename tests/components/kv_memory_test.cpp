// kv_memory_test.cpp — how many bytes a KV cache takes: llm::kv_cache_bytes() against hand-computed
// values, and against what the reference KVCache really allocates and fills during a forward pass.
//
//   bytes = 2 (K and V) x L layers x KV heads x D head_dim x positions x B batch x bytes per value
//
// Legend: L layers, H query heads, KV key/value heads, D head_dim, B batch, T new tokens.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "decoder_layer.h"
#include "kv_cache.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "llm/rng.h"
#include "rope.h"
#include "test_support.h"

using llm::Index;
using llm::KVCache;
using llm::kv_cache_bytes;
using llm::ModelConfig;

namespace {

constexpr std::size_t kFp32 = 4, kFp16 = 2;


// One forward pass of T new tokens through every decoder layer, each appending to its layer of `cache`
// (the reference blocks of lessons 01-03, wired as CausalLM wires them, without embedding or head).
void forward_layers(const ModelConfig& config, const std::vector<llm::DecoderLayer>& layers,
                    const llm::RotaryEmbedding& rope, KVCache& cache, Index T) {
  const Index B = cache.batch(), P = cache.seq_length(), S = P + T;
  llm::Rng rng(7);
  llm::Tensor x(llm::Shape{B, T, config.hidden_size});
  for (float& v : x.flat()) v = rng.normal();
  llm::IdTensor positions(llm::Shape{B, T});
  llm::Tensor mask(llm::Shape{B, T, S}, -std::numeric_limits<float>::infinity());  // causal, bottom-right
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T; ++t) {
      positions(b, t) = static_cast<std::int32_t>(P + t);
      for (Index j = 0; j <= P + t; ++j) mask(b, t, j) = 0.0f;
    }
  for (size_t l = 0; l < layers.size(); ++l)
    x = layers[l].forward(x, positions, &mask, &cache.layer(static_cast<Index>(l)), rope);
}

}  // namespace

TEST_SUITE_BEGIN("kv memory");

// ---------------------------------------------------------------------------------------------
// The formula against hand-computed values
// ---------------------------------------------------------------------------------------------

TEST_CASE("kv bytes of stories260K at its full context of 512 positions") {
  const ModelConfig c = ModelConfig::stories260k();  // L 5, H 8, KV 4, D = 64 / 8 = 8
  INFO("KV-cache bytes = 2 (K and V) x layers x KV heads x head_dim x positions x batch x bytes per value");
  // fp32: 2 * 5 * 4 * 8 * 512 * 4 = 320 * 512 * 4 = 655,360 bytes (640 KiB)
  CHECK(kv_cache_bytes(c, 512, 1, kFp32) == 655'360);
  CHECK(kv_cache_bytes(c, 512) == 655'360);  // the defaults: batch 1, fp32
  // fp16: 2 * 5 * 4 * 8 * 512 * 2 = 327,680 bytes (320 KiB)
  CHECK(kv_cache_bytes(c, 512, 1, kFp16) == 327'680);
  // the demo's run: prompt 5 + 256 generated = 261 positions: 2 * 5 * 4 * 8 * 261 * 4 = 334,080 bytes
  CHECK(kv_cache_bytes(c, 261) == 334'080);
}

TEST_CASE("kv bytes of the lesson config at its full context of 256 positions") {
  const ModelConfig c = ModelConfig::lesson();  // L 2, H 4, KV 2, D = 128 / 4 = 32
  INFO("KV-cache bytes of the lesson config: 2 x 2 layers x 2 KV heads x 32 head_dim x positions x batch x bytes");
  // batch 1, fp32: 2 * 2 * 2 * 32 * 256 * 4 = 256 * 256 * 4 = 262,144 bytes (256 KiB)
  CHECK(kv_cache_bytes(c, 256, 1, kFp32) == 262'144);
  // batch 2 (the tests' batch), fp32: twice that = 524,288 bytes
  CHECK(kv_cache_bytes(c, 256, 2, kFp32) == 524'288);
  // batch 2, fp16: 2 * 2 * 2 * 32 * 256 * 2 * 2 = 262,144 bytes
  CHECK(kv_cache_bytes(c, 256, 2, kFp16) == 262'144);
}

TEST_CASE("kv bytes of the Qwen2.5-0.5B config at 32k positions") {
  const ModelConfig c = llm::ModelConfig::qwen2_5_0_5b();  // L 24, H 14, KV 2, D = 896 / 14 = 64
  REQUIRE(c.head_dim() == 64);
  INFO("KV-cache bytes of a Qwen2.5-0.5B-shaped config: 2 x 24 layers x 2 KV heads x 64 head_dim x positions x bytes");
  // per token, fp16: 2 * 24 * 2 * 64 * 2 = 12,288 bytes (12 KiB)
  CHECK(kv_cache_bytes(c, 1, 1, kFp16) == 12'288);
  // 32768 positions, fp32: 2 * 24 * 2 * 64 * 32768 * 4 = 6144 * 32768 * 4 = 805,306,368 bytes (768 MiB)
  CHECK(kv_cache_bytes(c, 32768, 1, kFp32) == 805'306'368);
  // 32768 positions, fp16: 402,653,184 bytes (384 MiB)
  CHECK(kv_cache_bytes(c, 32768, 1, kFp16) == 402'653'184);
  // 4096 positions, fp16: 12,288 * 4096 = 50,331,648 bytes (48 MiB)
  CHECK(kv_cache_bytes(c, 4096, 1, kFp16) == 50'331'648);
}

// ---------------------------------------------------------------------------------------------
// The formula's properties: grouped-query attention, batch, precision
// ---------------------------------------------------------------------------------------------

TEST_CASE("kv bytes shrink by the query group count from MHA to GQA to MQA") {
  for (ModelConfig c : {ModelConfig::stories260k(), ModelConfig::lesson(), llm::ModelConfig::qwen2_5_0_5b()}) {
    const int H = c.num_attention_heads;
    CAPTURE(H);
    CAPTURE(c.num_key_value_heads);
    c.num_key_value_heads = H;  // MHA: one KV head per query head
    const std::size_t mha = kv_cache_bytes(c, 4096, 1, kFp16);
    c.num_key_value_heads = H / 2;  // every config here has an even H: GQA with groups of 2
    const std::size_t gqa2 = kv_cache_bytes(c, 4096, 1, kFp16);
    c.num_key_value_heads = 1;  // MQA: one KV head shared by all H query heads
    const std::size_t mqa = kv_cache_bytes(c, 4096, 1, kFp16);
    INFO("grouped-query attention stores K/V once per KV head: the cache shrinks by G = H / KV");
    CHECK(mha == 2 * gqa2);
    CHECK(mha == static_cast<std::size_t>(H) * mqa);
  }
}

TEST_CASE("kv bytes are linear in positions and batch and in bytes per value") {
  const ModelConfig c = ModelConfig::stories260k();
  INFO("the KV cache holds one K and one V vector per layer, KV head, position and batch row");
  const std::size_t one = kv_cache_bytes(c, 1, 1, kFp32);
  CHECK(one == 2 * 5 * 4 * 8 * 4);  // 1,280 bytes per position
  CHECK(kv_cache_bytes(c, 100, 1, kFp32) == 100 * one);
  CHECK(kv_cache_bytes(c, 100, 3, kFp32) == 300 * one);
  CHECK(kv_cache_bytes(c, 100, 3, kFp16) == 150 * one);  // half precision: half the bytes
  CHECK(kv_cache_bytes(c, 0, 1, kFp32) == 0);            // an empty context holds nothing
}

TEST_CASE("kv bytes reject a negative context or batch") {
  const ModelConfig c = ModelConfig::stories260k();
  INFO("kv_cache_bytes must refuse negative positions or batch with InvalidArgument naming the value");
  CHECK_THROWS_WITH_AS(kv_cache_bytes(c, -1), doctest::Contains("positions = -1"), llm::InvalidArgument);
  CHECK_THROWS_WITH_AS(kv_cache_bytes(c, 8, -2), doctest::Contains("batch = -2"), llm::InvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// The formula against the reference cache
// ---------------------------------------------------------------------------------------------

TEST_CASE("kv bytes match what KVCache allocates up front") {
  struct Case {
    const char* name;
    ModelConfig config;
    Index batch, capacity;
  };
  const std::vector<Case> cases = {
      {"stories260K full context", ModelConfig::stories260k(), 1, 512},
      {"stories260K batch 3", ModelConfig::stories260k(), 3, 100},
      {"lesson config batch 2", ModelConfig::lesson(), 2, 256},
      {"Qwen2.5-0.5B shape at 16 positions", llm::ModelConfig::qwen2_5_0_5b(), 1, 16},  // 768 KiB: the shape, not 768 MiB
  };
  for (const Case& k : cases) {
    CAPTURE(k.name);
    const KVCache cache(k.config, k.batch, k.capacity);
    INFO("a KVCache preallocates K and V for `capacity` positions: bytes_allocated() must equal "
         "kv_cache_bytes(config, capacity, batch) in fp32");
    CHECK(cache.bytes_allocated() == kv_cache_bytes(k.config, k.capacity, k.batch, kFp32));
    INFO("a new cache holds no position yet: bytes_used() must be 0");
    CHECK(cache.bytes_used() == 0);
  }
  // The hand-computed figure once more, on the real object: 655,360 bytes for stories260K at 512.
  CHECK(KVCache(ModelConfig::stories260k(), 1, 512).bytes_allocated() == 655'360);
}

TEST_CASE("kv bytes used grow with each forward and fall with crop while the allocation stays") {
  const ModelConfig c = ModelConfig::stories260k();
  llm::Rng rng(0);
  std::vector<llm::DecoderLayer> layers;
  for (int l = 0; l < c.num_hidden_layers; ++l) layers.emplace_back(c, rng);
  const llm::RotaryEmbedding rope(c.head_dim(), c.max_position_embeddings, c.rope_theta);
  const Index B = 2, capacity = 64;
  KVCache cache(c, B, capacity);
  const std::size_t allocated = cache.bytes_allocated();
  REQUIRE(allocated == kv_cache_bytes(c, capacity, B));  // 2 * 5 * 4 * 8 * 64 * 2 * 4 = 163,840

  forward_layers(c, layers, rope, cache, 5);  // prefill: 5 tokens per row
  REQUIRE(cache.seq_length() == 5);
  {
    INFO("after a prefill of 5 tokens bytes_used() must be the bytes of 5 positions: 2 x 5 x 4 x 8 x 5 x 2 x 4");
    CHECK(cache.bytes_used() == kv_cache_bytes(c, 5, B));
    CHECK(cache.bytes_used() == 12'800);
  }
  forward_layers(c, layers, rope, cache, 1);  // one decode step
  {
    INFO("a decode step appends exactly one position per row: 2 x 5 x 4 x 8 x 1 x 2 x 4 = 2,560 more bytes");
    CHECK(cache.bytes_used() == kv_cache_bytes(c, 6, B));
    CHECK(cache.bytes_used() == 12'800 + 2'560);
  }
  cache.crop(3);
  {
    INFO("crop(3) keeps 3 positions: bytes_used() falls to their bytes");
    CHECK(cache.bytes_used() == kv_cache_bytes(c, 3, B));
  }
  INFO("appending and cropping never reallocate: bytes_allocated() is unchanged");
  CHECK(cache.bytes_allocated() == allocated);
}

TEST_CASE("kv clone copies every layer's positions and then lives on its own") {
  const ModelConfig c = ModelConfig::tiny();
  llm::Rng rng(1);
  std::vector<llm::DecoderLayer> layers;
  for (int l = 0; l < c.num_hidden_layers; ++l) layers.emplace_back(c, rng);
  const llm::RotaryEmbedding rope(c.head_dim(), c.max_position_embeddings, c.rope_theta);
  KVCache cache(c, 2, 16);
  forward_layers(c, layers, rope, cache, 4);
  const KVCache copy = cache.clone();
  REQUIRE(copy.num_layers() == cache.num_layers());
  CHECK_MESSAGE(copy.seq_length() == 4, "clone() keeps the filled length");
  CHECK_MESSAGE(copy.bytes_allocated() == cache.bytes_allocated(), "clone() keeps the capacity");
  for (Index l = 0; l < cache.num_layers(); ++l) {
    CAPTURE(l);
    const llm::Tensor k = cache.layer(l).key_states(), kc = copy.layer(l).key_states();
    const llm::Tensor v = cache.layer(l).value_states(), vc = copy.layer(l).value_states();
    REQUIRE_MESSAGE(std::equal(k.flat().begin(), k.flat().end(), kc.flat().begin()), "clone() copies every key");
    REQUIRE_MESSAGE(std::equal(v.flat().begin(), v.flat().end(), vc.flat().begin()), "clone() copies every value");
  }
  forward_layers(c, layers, rope, cache, 1);  // the original grows; the copy must not
  CHECK_MESSAGE(cache.seq_length() == 5, "the original keeps growing");
  CHECK_MESSAGE(copy.seq_length() == 4, "a clone is a deep copy: appending to the original leaves it alone");
}

TEST_SUITE_END();
