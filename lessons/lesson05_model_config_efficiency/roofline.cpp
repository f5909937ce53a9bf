// roofline.cpp — YOUR lesson 05 work, exercise 2: arithmetic intensity, the roofline verdict for a
// machine, and the table of every config's costs. Each TODO is a step of README.md.
// The reference lives in solutions/lesson05_model_config_efficiency/roofline.cpp — try before you look.
//
// Legend: B batch, T new tokens, P cached positions, S = P + T, N the table's context.
#include "roofline.h"

#include <algorithm>
#include <string>

#include "llm/errors.h"

namespace llm {

// Exercise 2 — speed

std::int64_t bytes_moved(const ModelConfig& config, const Workload& work, std::int64_t bytes_per_value) {
  // TODO(step 4): the weights once plus the KV cache of the S = P + T positions (memory_estimate has
  //   both); activations are not counted.
  (void)config, (void)work, (void)bytes_per_value;
  throw NotImplemented("lesson05 step 4: bytes moved by a forward call");
}

double arithmetic_intensity(const ModelConfig& config, const Workload& work, std::int64_t bytes_per_value) {
  // TODO(step 4): forward FLOPs (step 2) divided by bytes_moved, in double.
  (void)config, (void)work, (void)bytes_per_value;
  throw NotImplemented("lesson05 step 4: arithmetic intensity in FLOP/byte");
}

RooflineEstimate roofline(const ModelConfig& config, const Workload& work, std::int64_t bytes_per_value,
                          const Machine& machine) {
  // TODO(step 4): check_machine(machine); flops, bytes, intensity; ridge = peak / bandwidth;
  //   memory-bound when intensity < ridge; attainable = min(peak, intensity x bandwidth);
  //   seconds = max(flops / peak, bytes / bandwidth).
  (void)config, (void)work, (void)bytes_per_value, (void)machine;
  throw NotImplemented("lesson05 step 4: the roofline verdict for a machine");
}

std::string efficiency_table(std::span<const NamedConfig> configs, const TableOptions& options) {
  // TODO(step 5): check_table_options(options); the two header lines of roofline.h, then per config
  //   N = min(context, max_position_embeddings), prefill(N, B) and decode_step(N - 1, B), and one
  //   row of cells formatted with format_count / format_bytes / format_si, each line ending in '\n'.
  (void)configs, (void)options;
  throw NotImplemented("lesson05 step 5: the efficiency table");
}

}  // namespace llm
