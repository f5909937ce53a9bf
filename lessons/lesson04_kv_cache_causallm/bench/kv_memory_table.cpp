// kv_memory_table.cpp — how many bytes the KV cache needs: multi-head (MHA), grouped-query (GQA) and
// multi-query (MQA) attention, for stories260K, the course's lesson config and a Qwen2.5-0.5B-shaped
// config, at contexts of 512, 4k and 32k tokens, in fp32 and fp16. Arithmetic only (llm::kv_cache_bytes,
// tested in tests/components/kv_memory_test.cpp); nothing is allocated.
//   lesson04_kv_memory_table            Markdown, for docs/benchmarks.md
//   lesson04_kv_memory_table --tsv      one row per (model, attention, context): the data of the bar chart
#include <cstdio>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "kv_cache.h"
#include "llm/config.h"

namespace {

struct Model {
  const char* name;
  llm::ModelConfig config;
};


struct Variant {
  const char* name;  // MHA, GQA, MQA
  int kv_heads;
};

// MHA: one KV head per query head. GQA: the model's own KV heads. MQA: one KV head for all.
std::vector<Variant> variants(const llm::ModelConfig& c) {
  return {{"MHA", c.num_attention_heads}, {"GQA", c.num_key_value_heads}, {"MQA", 1}};
}

// 1536 -> "1.5 KiB": binary units, three significant digits.
std::string human(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  else std::snprintf(buf, sizeof buf, bytes >= 100 ? "%.0f %s" : bytes >= 10 ? "%.1f %s" : "%.2f %s", bytes, units[u]);
  return buf;
}

const int kContexts[] = {512, 4096, 32768};
const char* kContextNames[] = {"512", "4k", "32k"};

}  // namespace

int main(int argc, char** argv) {
  const bool tsv = argc > 1 && std::strcmp(argv[1], "--tsv") == 0;
  const std::vector<Model> models = {
      {"stories260K", llm::ModelConfig::stories260k()},
      {"lesson config", llm::ModelConfig::lesson()},
      {"Qwen2.5-0.5B", llm::ModelConfig::qwen2_5_0_5b()},
  };

  if (tsv) {
    std::printf("# model\tattention\tkv_heads\tcontext\tfp32_bytes\tfp16_bytes\n");
    for (const Model& m : models)
      for (const Variant& v : variants(m.config))
        for (int ctx : kContexts) {
          llm::ModelConfig c = m.config;
          c.num_key_value_heads = v.kv_heads;
          std::printf("\"%s\"\t%s\t%d\t%d\t%zu\t%zu\n", m.name, v.name, v.kv_heads, ctx, llm::kv_cache_bytes(c, ctx, 1, 4),
                      llm::kv_cache_bytes(c, ctx, 1, 2));
        }
    return 0;
  }

  std::printf("| model | attention | KV heads | per token (fp16) |");
  for (const char* ctx : kContextNames) std::printf(" %s fp32 | %s fp16 |", ctx, ctx);
  std::printf("\n|---|---|--:|--:|");
  for (size_t i = 0; i < std::size(kContexts); ++i) std::printf("--:|--:|");
  std::printf("\n");
  for (const Model& m : models)
    for (const Variant& v : variants(m.config)) {
      llm::ModelConfig c = m.config;
      c.num_key_value_heads = v.kv_heads;
      const bool own = v.kv_heads == m.config.num_key_value_heads;
      std::printf("| %s (L %d, H %d, D %d) | %s%s | %d | %s |", m.name, c.num_hidden_layers, c.num_attention_heads,
                  c.head_dim(), v.name, own ? " (the model's)" : "", v.kv_heads,
                  human(static_cast<double>(llm::kv_cache_bytes(c, 1, 1, 2))).c_str());
      for (int ctx : kContexts) {
        // A context longer than the model's positions is the formula's answer, not something it can run.
        const char* mark = ctx > c.max_position_embeddings ? "*" : "";
        std::printf(" %s%s | %s%s |", human(static_cast<double>(llm::kv_cache_bytes(c, ctx, 1, 4))).c_str(), mark,
                    human(static_cast<double>(llm::kv_cache_bytes(c, ctx, 1, 2))).c_str(), mark);
      }
      std::printf("\n");
    }
  std::printf("\nBatch 1. Bytes = 2 (K and V) x layers x KV heads x head_dim x context x bytes per value "
              "(4 for fp32, 2 for fp16); KiB/MiB/GiB are powers of 1024. "
              "\\* longer than the model's max_position_embeddings (stories260K 512, lesson config 256): "
              "what the formula gives, not a context the model can run.\n");
  return 0;
}
