// basic_test.cpp — lesson 05's basic suite: every step on numbers you can check with pen and paper —
// a small hand config's parameters per component and its llama2.c file size, FLOPs of a prefill, a
// decode step and a batch, weights / KV cache / activation bytes, bytes moved, intensity, the
// roofline verdict, and the table's layout and one row.
// Not here: the real allocation of a CausalLM, the stories260K file on disk, Qwen2.5-0.5B's numbers,
// scaling properties, invalid inputs and overflow — those are in advanced_test.cpp.
//
// Legend: B batch, T new tokens, P cached positions, S = P + T, C hidden, F intermediate, V vocab,
// L layers, H query heads, KV key/value heads, D head_dim.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "kv_cache.h"
#include "llm/config.h"
#include "model_stats.h"
#include "roofline.h"
#include "test_support.h"

using llm::ModelConfig;
using llm::Workload;

namespace {

// V 10, C 8, F 12, L 3, H 2, KV 1, D 4, 16 positions: small enough to count by hand.
//   embedding 10*8 = 80
//   per layer: q 8*8 = 64, k 4*8 = 32, v 32, o 64, gate 12*8 = 96, up 96, down 96, norms 8 + 8
//            = 192 (attention) + 288 (MLP) + 16 (norms) = 496;  3 layers = 1488
//   final norm 8;  tied head 0  ->  total 80 + 1488 + 8 = 1576  (untied: + 80 = 1656)
ModelConfig hand_config() {
  ModelConfig c;
  c.vocab_size = 10;
  c.hidden_size = 8;
  c.intermediate_size = 12;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.max_position_embeddings = 16;
  c.tie_word_embeddings = true;
  return c;
}

// The hand config's matmul weights: 3 layers x (192 + 288) + the (10, 8) head = 1520, so a token costs
// 2 x 1520 = 3040 matmul FLOPs. Each visible key costs 4 x L x H x D = 4 x 3 x 2 x 4 = 96 FLOPs.
constexpr std::int64_t kHandMatmulPerToken = 3040;
constexpr std::int64_t kHandPerKey = 96;

}  // namespace

// ------------------------------------------------------------------------------------------------
// Step 1: parameters
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 1: every component of a small config counted by hand") {
  const llm::ParameterCount p = llm::count_parameters(hand_config());
  CHECK_MESSAGE(p.embedding == 80, "the embedding table is V x C = 10 x 8");
  CHECK_MESSAGE(p.layer.q_proj == 64, "q_proj is (H*D, C) = (8, 8)");
  CHECK_MESSAGE(p.layer.k_proj == 32, "k_proj is (KV*D, C) = (4, 8): only the KV heads, not H of them");
  CHECK_MESSAGE(p.layer.v_proj == 32, "v_proj is (KV*D, C) = (4, 8): only the KV heads, not H of them");
  CHECK_MESSAGE(p.layer.o_proj == 64, "o_proj is (C, H*D) = (8, 8)");
  CHECK_MESSAGE(p.layer.gate_proj == 96, "gate_proj is (F, C) = (12, 8)");
  CHECK_MESSAGE(p.layer.up_proj == 96, "up_proj is (F, C) = (12, 8)");
  CHECK_MESSAGE(p.layer.down_proj == 96, "down_proj is (C, F) = (8, 12)");
  CHECK_MESSAGE(p.layer.input_layernorm == 8, "an RMSNorm has one weight per hidden unit and no bias");
  CHECK_MESSAGE(p.layer.post_attention_layernorm == 8,
                "an RMSNorm has one weight per hidden unit and no bias");
  CHECK_MESSAGE(p.num_layers == 3, "num_layers is num_hidden_layers");
  CHECK_MESSAGE(p.final_norm == 8, "the final norm has C weights");
  CHECK_MESSAGE(p.lm_head == 0, "a tied LM head reuses the embedding matrix: it adds nothing");
  CHECK_MESSAGE(p.layer.total() == 496, "one layer: 192 attention + 288 MLP + 16 norm weights");
  CHECK_MESSAGE(p.total() == 1576, "80 embedding + 3 x 496 layers + 8 final norm");
}

TEST_CASE("step 1: an untied LM head adds V x C and a tied one adds nothing") {
  ModelConfig c = hand_config();
  c.tie_word_embeddings = false;
  const llm::ParameterCount untied = llm::count_parameters(c);
  CHECK_MESSAGE(untied.lm_head == 80, "an untied head has its own (V, C) = (10, 8) matrix");
  CHECK_MESSAGE(untied.embedding == 80, "the embedding is V x C whether or not the head is tied");
  CHECK_MESSAGE(untied.total() == 1656, "untied total: 1576 + 80");
  c.tie_word_embeddings = true;
  CHECK_MESSAGE(llm::count_parameters(c).total() == 1576, "tied: the shared matrix is counted once");
}

TEST_CASE("step 1: the llama2.c file of a small config by hand") {
  // 28 header bytes + 4 x (1576 parameters + 2 RoPE tables of 16 positions x D/2 = 2 floats each = 64).
  CHECK_MESSAGE(
      llm::llama2c_checkpoint_bytes(hand_config()) == 28 + 4 * (1576 + 64),
      "a llama2.c file holds a 28-byte header, 4 bytes per parameter and the two legacy RoPE tables "
      "(max_position_embeddings x D/2 floats each)");
  ModelConfig untied = hand_config();
  untied.tie_word_embeddings = false;
  CHECK_MESSAGE(llm::llama2c_checkpoint_bytes(untied) == 28 + 4 * (1656 + 64),
                "an untied head is stored after the RoPE tables (wcls): 4 bytes more per head weight");
}

TEST_CASE("step 1: stories260K has 260032 parameters in a 1056540-byte file") {
  // V 512, C 64, F 172, L 5, H 8, KV 4, D 8. Per layer: q 4096, k 2048, v 2048, o 4096,
  // gate/up/down 11008 each, norms 128 -> 45440. Total 32768 + 5 x 45440 + 64 = 260032 (tied).
  const llm::ParameterCount p = llm::count_parameters(ModelConfig::stories260k());
  CHECK_MESSAGE(p.embedding == 32768, "512 x 64 embedding");
  CHECK_MESSAGE(p.layer.total() == 45440, "one stories260K layer holds 45,440 weights");
  CHECK_MESSAGE(p.total() == 260032, "stories260K has 260,032 parameters: the 260K of its name");
  // 28 + 4 x (260032 + 2 x 512 x 4) = 1,056,540, the size SOURCE.md gives.
  CHECK_MESSAGE(llm::llama2c_checkpoint_bytes(ModelConfig::stories260k()) == 1056540,
                "header 28 + 4 x (260,032 parameters + 4,096 RoPE table floats)");
}

// ------------------------------------------------------------------------------------------------
// Step 2: FLOPs
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 2: one token from an empty cache costs 2 FLOPs per matmul weight plus one key per head") {
  const llm::FlopCount f = llm::forward_flops(hand_config(), llm::prefill(1));
  CHECK_MESSAGE(f.matmul == kHandMatmulPerToken,
                "matmul FLOPs per token = 2 x (3 layers x 480 projection weights + 80 head weights) = 3040");
  CHECK_MESSAGE(
      f.attention == kHandPerKey,
      "the first token sees 1 key: 2 x 2 x H x D per layer (scores and the weighted sum of V) = 96");
  CHECK_MESSAGE(f.total() == 3136, "total = matmul + attention");
}

TEST_CASE("step 2: the embedding lookup costs nothing and a tied LM head still counts") {
  ModelConfig c = hand_config();
  const std::int64_t tied = llm::forward_flops(c, llm::prefill(1)).matmul;
  c.tie_word_embeddings = false;
  CHECK_MESSAGE(llm::forward_flops(c, llm::prefill(1)).matmul == tied,
                "the LM head's (V, C) multiply happens whether its matrix is shared or not");
  c.vocab_size = 20;  // +10 vocabulary rows: +80 embedding and +80 head weights, but only the head multiplies
  CHECK_MESSAGE(llm::forward_flops(c, llm::prefill(1)).matmul == tied + 2 * 10 * 8,
                "a bigger vocabulary adds 2 x dV x C FLOPs for the head and nothing for the embedding lookup "
                "(a gather, 0 FLOPs)");
}

TEST_CASE("step 2: a prefill of T tokens sees T(T+1)/2 keys and a decode step P + 1") {
  const ModelConfig c = hand_config();
  const llm::FlopCount pre = llm::forward_flops(c, llm::prefill(4));
  CHECK_MESSAGE(pre.matmul == 4 * kHandMatmulPerToken,
                "every one of the T = 4 tokens goes through every matrix");
  CHECK_MESSAGE(pre.attention == kHandPerKey * 10,
                "causal prefill: the 4 tokens see 1 + 2 + 3 + 4 = 10 keys, not 4 x 4 = 16");
  const llm::FlopCount dec = llm::forward_flops(c, llm::decode_step(5));
  CHECK_MESSAGE(dec.matmul == kHandMatmulPerToken, "a decode step multiplies one token's vectors");
  CHECK_MESSAGE(dec.attention == kHandPerKey * 6,
                "after 5 cached positions the new token sees 5 + 1 = 6 keys");
  const llm::FlopCount chunk = llm::forward_flops(c, Workload{.batch = 1, .past = 2, .new_tokens = 3});
  CHECK_MESSAGE(chunk.attention == kHandPerKey * 12,
                "3 new tokens after 2 cached see 3 x 2 cached keys + 1 + 2 + 3 new ones = 12");
}

TEST_CASE("step 2: the batch multiplies every term") {
  const llm::FlopCount f = llm::forward_flops(hand_config(), llm::prefill(4, /*batch=*/3));
  CHECK_MESSAGE(f.matmul == 3 * 4 * kHandMatmulPerToken, "B = 3 rows of T = 4 tokens: 12 token passes");
  CHECK_MESSAGE(f.attention == 3 * 10 * kHandPerKey, "every row has its own attention: 3 x 10 keys");
}

// ------------------------------------------------------------------------------------------------
// Step 3: memory
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 3: weights take parameters x bytes per value") {
  const ModelConfig c = hand_config();
  CHECK_MESSAGE(llm::memory_estimate(c, llm::prefill(1), 4).weights == 1576 * 4,
                "fp32: 4 bytes per parameter");
  CHECK_MESSAGE(llm::memory_estimate(c, llm::prefill(1), 2).weights == 1576 * 2,
                "fp16/bf16: 2 bytes per parameter");
  CHECK_MESSAGE(llm::memory_estimate(c, llm::prefill(7, 5), 2).weights == 1576 * 2,
                "the weights do not depend on the batch or the length");
}

TEST_CASE("step 3: the KV cache is lesson 02's kv_cache_bytes of P + T positions") {
  const ModelConfig c = hand_config();
  const llm::MemoryEstimate m = llm::memory_estimate(c, Workload{.batch = 2, .past = 3, .new_tokens = 2}, 2);
  // 2 (K and V) x L 3 x KV 1 x D 4 x S 5 x B 2 x 2 bytes = 480
  CHECK_MESSAGE(m.kv_cache == 480, "KV bytes = 2 x L x KV x D x (P + T) x B x bytes = 2*3*1*4*5*2*2");
  CHECK_MESSAGE(m.kv_cache == static_cast<std::int64_t>(llm::kv_cache_bytes(c, 5, 2, 2)),
                "use lesson 02's kv_cache_bytes with S = P + T positions");
}

TEST_CASE("step 3: activations of a small config by hand") {
  const ModelConfig c = hand_config();
  // B 2, P 3, T 2, S 5: 4 token rows.
  //   attention 4 x (C 8 + 2 x H*D 8) + B*H*T*S 2*2*2*5 = 96 + 40 = 136
  //   mlp       4 x (C 8 + 2 x F 12) = 128;  logits 4 x V 10 = 40;  peak max(136, 128) + 40 = 176
  const llm::MemoryEstimate m = llm::memory_estimate(c, Workload{.batch = 2, .past = 3, .new_tokens = 2}, 2);
  CHECK_MESSAGE(
      m.activation_values.attention == 136,
      "attention: residual (C) + queries (H*D) + heads' output (H*D) per token, plus the (B, H, T, S) "
      "scores");
  CHECK_MESSAGE(m.activation_values.mlp == 128, "MLP: residual (C) + gate (F) + up (F) per token");
  CHECK_MESSAGE(m.activation_values.logits == 40, "logits are (B, T, V)");
  CHECK_MESSAGE(m.activations == 176 * 2,
                "activation bytes = (max(attention, mlp) + logits) x bytes per value");
  CHECK_MESSAGE(m.total() == 1576 * 2 + 480 + 352, "total = weights + KV cache + activations");

  // One token from an empty cache: attention 24 + 2 = 26 < mlp 32, so the MLP sets the peak: 32 + 10.
  const llm::MemoryEstimate one = llm::memory_estimate(c, llm::prefill(1), 4);
  CHECK_MESSAGE(one.activation_values.attention == 26, "one token, one key: 8 + 16 + H*T*S = 2");
  CHECK_MESSAGE(one.activations == (32 + 10) * 4, "the peak takes the larger of the attention and MLP sets");
}

// ------------------------------------------------------------------------------------------------
// Step 4: arithmetic intensity and the roofline
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 4: bytes moved are the weights once plus the KV cache") {
  const ModelConfig c = hand_config();
  // Decode after 5 cached positions, fp32: weights 1576 x 4 = 6304, KV of 6 positions 2*3*1*4*6*1*4 = 576.
  CHECK_MESSAGE(llm::bytes_moved(c, llm::decode_step(5), 4) == 6304 + 576,
                "a forward call reads every weight once and the K and V of the S = P + T positions");
  CHECK_MESSAGE(llm::bytes_moved(c, llm::decode_step(5, 2), 4) == 6304 + 2 * 576,
                "a batch shares the weights (read once) but every row has its own KV cache");
}

TEST_CASE("step 4: the arithmetic intensity of a decode step and a prefill by hand") {
  const ModelConfig c = hand_config();
  // Decode after 5: 3040 + 6 x 96 = 3616 FLOPs over 6880 bytes.
  CHECK_MESSAGE(llm::arithmetic_intensity(c, llm::decode_step(5), 4) == doctest::Approx(3616.0 / 6880.0),
                "intensity = forward FLOPs / bytes moved");
  // Prefill of 8: 8 x 3040 + 36 x 96 = 27776 FLOPs over 6304 + 768 = 7072 bytes.
  CHECK_MESSAGE(llm::arithmetic_intensity(c, llm::prefill(8), 4) == doctest::Approx(27776.0 / 7072.0),
                "a prefill reuses every weight it reads for all T tokens");
}

TEST_CASE("step 4: the roofline by hand with a memory-bound decode and a compute-bound prefill") {
  const ModelConfig c = hand_config();
  const llm::Machine m{.peak_flops_per_s = 1000.0, .bytes_per_s = 500.0};  // ridge 2 FLOP/byte
  const llm::RooflineEstimate dec = llm::roofline(c, llm::decode_step(5), 4, m);
  CHECK_MESSAGE(dec.flops == 3616, "flops = forward_flops(...).total()");
  CHECK_MESSAGE(dec.bytes == 6880, "bytes = bytes_moved(...)");
  CHECK_MESSAGE(dec.ridge == doctest::Approx(2.0), "the ridge point is peak / bandwidth");
  CHECK_MESSAGE(dec.bound == llm::Bound::kMemory, "0.53 FLOP/byte is below the ridge of 2: memory-bound");
  CHECK_MESSAGE(
      dec.seconds == doctest::Approx(6880.0 / 500.0),
      "a memory-bound call takes bytes / bandwidth (13.76 s here), longer than flops / peak (3.6 s)");
  CHECK_MESSAGE(dec.attainable_flops_per_s == doctest::Approx(3616.0 / 6880.0 * 500.0),
                "below the ridge the attainable rate is intensity x bandwidth");
  const llm::RooflineEstimate pre = llm::roofline(c, llm::prefill(8), 4, m);
  CHECK_MESSAGE(pre.bound == llm::Bound::kCompute, "3.93 FLOP/byte is above the ridge of 2: compute-bound");
  CHECK_MESSAGE(pre.seconds == doctest::Approx(27776.0 / 1000.0), "a compute-bound call takes flops / peak");
  CHECK_MESSAGE(pre.attainable_flops_per_s == doctest::Approx(1000.0),
                "above the ridge the peak is the limit");
}

// ------------------------------------------------------------------------------------------------
// Step 5: the table
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 5: the table has its header and separator and one row per config in order") {
  const std::vector<llm::NamedConfig> configs = {{"first", hand_config()}, {"second", ModelConfig::tiny()}};
  const std::string table = llm::efficiency_table(configs, {.context = 8});
  const std::string header =
      "| model | parameters | weights | context | KV cache | prefill FLOP/token | decode FLOP/token | "
      "prefill FLOP/byte | decode FLOP/byte |\n"
      "|---|--:|--:|--:|--:|--:|--:|--:|--:|\n";
  REQUIRE_MESSAGE(table.substr(0, header.size()) == header,
                  "the table starts with the header line and the separator of roofline.h");
  const std::string rows = table.substr(header.size());
  CHECK_MESSAGE(rows.rfind("| first | 1,576 |", 0) == 0,
                "rows follow in the given order, the count with thousands separators");
  CHECK_MESSAGE(rows.find("\n| second | 20,640 |") != std::string::npos,
                "one row per config, each line ending in a newline");
  CHECK_MESSAGE((!rows.empty() && rows.back() == '\n'), "the last row ends in a newline too");
  int lines = 0;
  for (char ch : table) lines += ch == '\n';
  CHECK_MESSAGE(lines == 4, "header + separator + 2 rows");
}

TEST_CASE("step 5: the tiny row by hand") {
  // tiny: V 64, C 32, F 64, L 2, H 4, KV 2, D 8, tied -> 20,640 parameters; context 8, fp32, batch 1.
  //   weights 82,560 B = 80.6 KiB; KV 2*2*2*8*8*4 = 2,048 B = 2.00 KiB
  //   matmul per token 2 x (2 x 9,216 + 2,048) = 40,960; a key costs 4*2*4*8 = 256
  //   prefill 8: (8 x 40,960 + 36 x 256) / 8 = 42,112 = 42.1 k;  decode at 7: 40,960 + 8 x 256 = 43,008
  //   = 43.0 k intensity: 336,896 / 84,608 = 3.98 and 43,008 / 84,608 = 0.51
  const std::vector<llm::NamedConfig> configs = {{"tiny", ModelConfig::tiny()}};
  const std::string table = llm::efficiency_table(configs, {.context = 8, .batch = 1, .bytes_per_value = 4});
  const std::string row = "| tiny | 20,640 | 80.6 KiB | 8 | 2.00 KiB | 42.1 k | 43.0 k | 3.98 | 0.51 |\n";
  CAPTURE(table);
  CHECK_MESSAGE(table.size() >= row.size(), "the table must hold the row");
  CHECK_MESSAGE(table.substr(table.size() - std::min(table.size(), row.size())) == row,
                "the row's cells: count, weight bytes, context, KV bytes, prefill and decode FLOP/token, "
                "prefill and decode FLOP/byte, formatted with format_count / format_bytes / format_si");
}
