// probes_lesson05.cpp — `./llm compare lesson05`: the parameter count, the llama2.c file size, forward
// FLOPs, the memory estimate, arithmetic intensity, the roofline verdict and the table, for the
// course's configs. Counts are compared exactly (as integers), ratios with the tolerance.
// Not here: the report program's formatting beyond the table itself.
#include <string>
#include <vector>

#include "grade/probes.h"
#include "model_stats.h"
#include "roofline.h"

using namespace llm;
using namespace llm::dump;

int main() {
  emit("{\"setup\":\"ModelConfig presets: tiny, lesson, stories260k, qwen2_5_0_5b\"}");
  const std::vector<NamedConfig> configs = {{"tiny", ModelConfig::tiny()},
                                            {"lesson", ModelConfig::lesson()},
                                            {"stories260k", ModelConfig::stories260k()},
                                            {"qwen2.5-0.5b", ModelConfig::qwen2_5_0_5b()}};
  for (const auto& [name, cfg] : configs) {
    probe(1, "count_parameters " + name, [&] {
      const ParameterCount p = count_parameters(cfg);
      return integers(std::vector<std::int64_t>{p.embedding, p.layer.q_proj, p.layer.k_proj, p.layer.v_proj,
                                                p.layer.o_proj, p.layer.gate_proj, p.layer.up_proj,
                                                p.layer.down_proj, p.layer.norms(), p.num_layers, p.final_norm,
                                                p.lm_head, p.total()});
    });
  }
  probe(1, "llama2c_checkpoint_bytes stories260k", [] {
    return integers(std::vector<std::int64_t>{llama2c_checkpoint_bytes(ModelConfig::stories260k())});
  });
  for (const auto& [name, cfg] : configs) {
    probe(2, "forward_flops " + name + ": prefill 64, decode at 63, B2 P10 T5", [&] {
      std::vector<std::int64_t> v;
      for (const Workload& w : {prefill(64), decode_step(63), Workload{2, 10, 5}}) {
        const FlopCount f = forward_flops(cfg, w);
        v.push_back(f.matmul);
        v.push_back(f.attention);
      }
      return integers(v);
    });
    probe(3, "memory_estimate " + name + ": B2 P10 T5, 2 bytes", [&] {
      const MemoryEstimate m = memory_estimate(cfg, Workload{2, 10, 5}, 2);
      return integers(std::vector<std::int64_t>{m.weights, m.kv_cache, m.activation_values.attention,
                                                m.activation_values.mlp, m.activation_values.logits,
                                                m.activations, m.total()});
    });
    probe(4, "bytes_moved, intensity " + name + ": prefill 64 / decode at 63", [&] {
      ProbeResult r;
      for (const Workload& w : {prefill(64), decode_step(63)}) {
        r.ints.push_back(bytes_moved(cfg, w, 2));
        r.values.push_back(static_cast<float>(arithmetic_intensity(cfg, w, 2)));
      }
      return r;
    });
  }
  probe(4, "roofline qwen2.5-0.5b decode and prefill, 100 TFLOP/s, 1 TB/s", [] {
    const Machine m{100e12, 1e12};
    ProbeResult r;
    for (const Workload& w : {decode_step(1023), prefill(1024)}) {
      const RooflineEstimate e = roofline(ModelConfig::qwen2_5_0_5b(), w, 2, m);
      r.ints.insert(r.ints.end(), {e.flops, e.bytes, e.bound == Bound::kCompute ? 1 : 0});
      r.values.insert(r.values.end(), {static_cast<float>(e.intensity), static_cast<float>(e.ridge),
                                       static_cast<float>(e.attainable_flops_per_s / 1e12),
                                       static_cast<float>(e.seconds * 1e3)});
    }
    return r;
  });
  probe(5, "efficiency_table of the four configs (context 512, fp16)", [&] {
    return text(efficiency_table(configs, {.context = 512, .batch = 1, .bytes_per_value = 2}));
  });
  emit("{\"done\":true}");
}
