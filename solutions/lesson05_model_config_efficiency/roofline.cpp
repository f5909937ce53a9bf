// roofline.cpp — reference of lesson 05, exercise 2: arithmetic intensity, the roofline
// verdict for a machine, and the table of every config's costs.
//
// Legend: B batch, T new tokens, P cached positions, S = P + T, N the table's context.
#include "roofline.h"

#include <algorithm>
#include <string>

#include "llm/errors.h"

namespace llm {

// ---------------------------------------------------------------------------------------------
// Step 4: arithmetic intensity and the roofline
// ---------------------------------------------------------------------------------------------

std::int64_t bytes_moved(const ModelConfig& config, const Workload& work, std::int64_t bytes_per_value) {
  // Every weight once, plus the K and V of the S positions attended to, per row.
  const MemoryEstimate m = memory_estimate(config, work, bytes_per_value);
  return checked_add(m.weights, m.kv_cache, "bytes_moved");
}

double arithmetic_intensity(const ModelConfig& config, const Workload& work, std::int64_t bytes_per_value) {
  const std::int64_t bytes = bytes_moved(config, work, bytes_per_value);  // validates everything
  return static_cast<double>(forward_flops(config, work).total()) / static_cast<double>(bytes);
}

RooflineEstimate roofline(const ModelConfig& config, const Workload& work, std::int64_t bytes_per_value,
                          const Machine& machine) {
  check_machine(machine);
  RooflineEstimate r;
  r.bytes = bytes_moved(config, work, bytes_per_value);
  r.flops = forward_flops(config, work).total();
  r.intensity = static_cast<double>(r.flops) / static_cast<double>(r.bytes);
  r.ridge = machine.peak_flops_per_s / machine.bytes_per_s;
  r.bound = r.intensity < r.ridge ? Bound::kMemory : Bound::kCompute;
  r.attainable_flops_per_s = std::min(machine.peak_flops_per_s, r.intensity * machine.bytes_per_s);
  // Whichever takes longer: doing the arithmetic at peak, or moving the bytes at full bandwidth.
  r.seconds = std::max(static_cast<double>(r.flops) / machine.peak_flops_per_s,
                       static_cast<double>(r.bytes) / machine.bytes_per_s);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Step 5: the table
// ---------------------------------------------------------------------------------------------

std::string efficiency_table(std::span<const NamedConfig> configs, const TableOptions& options) {
  check_table_options(options);
  std::string out =
      "| model | parameters | weights | context | KV cache | prefill FLOP/token | decode FLOP/token | "
      "prefill FLOP/byte | decode FLOP/byte |\n"
      "|---|--:|--:|--:|--:|--:|--:|--:|--:|\n";
  const Index B = options.batch;
  const std::int64_t bytes = options.bytes_per_value;
  for (const NamedConfig& row : configs) {
    const ModelConfig& c = row.config;
    c.validate();
    // One context per row: the model cannot hold more positions than max_position_embeddings.
    const Index N = std::min<Index>(options.context, c.max_position_embeddings);
    const Workload fill = prefill(N, B);                         // the whole context from an empty cache
    const Workload last = decode_step(N - 1, B);                 // the token that completes the context
    const MemoryEstimate mem = memory_estimate(c, fill, bytes);  // its KV cache holds S = N positions
    const double prefill_per_token =
        static_cast<double>(forward_flops(c, fill).total()) / static_cast<double>(B * N);
    const double decode_per_token =
        static_cast<double>(forward_flops(c, last).total()) / static_cast<double>(B);
    out += "| " + row.name + " | " + format_count(count_parameters(c).total()) + " | " +
           format_bytes(mem.weights) + " | " + std::to_string(N) + " | " + format_bytes(mem.kv_cache) +
           " | " + format_si(prefill_per_token) + " | " + format_si(decode_per_token) + " | " +
           format_si(arithmetic_intensity(c, fill, bytes)) + " | " +
           format_si(arithmetic_intensity(c, last, bytes)) + " |\n";
  }
  return out;
}

}  // namespace llm
