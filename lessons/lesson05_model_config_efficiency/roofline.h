// roofline.h — lesson 05's contract, part 2: arithmetic intensity (FLOPs per byte moved), a
// roofline-style "memory-bound or compute-bound" verdict for a machine given by its peak FLOP/s and
// memory bandwidth (parameters, never measured here), and the lesson's table of every config's costs.
// Shared by the stub (lessons/) and the reference (solutions/). Not here: caches between the
// processor and memory, kernel efficiency, communication between devices, measured timings
// (docs/benchmarks.md has those).
//
// Dimension legend (docs/dimensions.md): B batch, T new tokens, P cached positions, S = P + T,
// C hidden_size, V vocab_size, L layers, H query heads, KV key/value heads, D head_dim.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "model_stats.h"

namespace llm {

// ---------------------------------------------------------------------------------------------
// Step 4. Arithmetic intensity and the roofline
// ---------------------------------------------------------------------------------------------

// The bytes one forward call moves between memory and the processor, in this lesson's model:
//   every weight once (memory_estimate's weights: all parameters x bytes_per_value)
//   + the KV cache of the S = P + T positions it attends to, for the B rows (memory_estimate's
//     kv_cache; the T new positions are written and read, counted once).
// Activations are assumed to stay in the processor's caches and are not counted. Validates like
// memory_estimate().
std::int64_t bytes_moved(const ModelConfig& config, const Workload& work, std::int64_t bytes_per_value);

// forward_flops(config, work).total() / bytes_moved(config, work, bytes_per_value), in FLOP/byte.
double arithmetic_intensity(const ModelConfig& config, const Workload& work, std::int64_t bytes_per_value);

// A machine, described by two numbers (both finite and > 0, else InvalidArgument).
struct Machine {
  double peak_flops_per_s = 0.0;  // FLOP/s the arithmetic units can do at most
  double bytes_per_s = 0.0;       // memory bandwidth, bytes/s
};

enum class Bound { kMemory, kCompute };
const char* bound_name(Bound bound);  // "memory-bound", "compute-bound" (given)

// One forward call on one machine. The ridge point is peak / bandwidth (FLOP/byte): below it the
// memory cannot feed the arithmetic fast enough (memory-bound), at or above it the arithmetic is the
// limit (compute-bound).
struct RooflineEstimate {
  std::int64_t flops = 0;               // forward_flops(...).total()
  std::int64_t bytes = 0;               // bytes_moved(...)
  double intensity = 0.0;               // flops / bytes
  double ridge = 0.0;                   // machine.peak_flops_per_s / machine.bytes_per_s
  Bound bound = Bound::kMemory;         // kMemory when intensity < ridge, else kCompute
  double attainable_flops_per_s = 0.0;  // min(peak, intensity x bandwidth)
  double seconds = 0.0;                 // max(flops / peak, bytes / bandwidth): no machine does it faster
};

RooflineEstimate roofline(const ModelConfig& config, const Workload& work, std::int64_t bytes_per_value,
                          const Machine& machine);

// ---------------------------------------------------------------------------------------------
// Step 5. The table
// ---------------------------------------------------------------------------------------------

struct NamedConfig {
  std::string name;
  ModelConfig config;
};

struct TableOptions {
  Index context = 1024;              // N, capped per model at its max_position_embeddings
  Index batch = 1;                   // B
  std::int64_t bytes_per_value = 4;  // fp32 4, fp16/bf16 2
};

// A Markdown table, one line per config, in the given order; every line ends in '\n':
//   | model | parameters | weights | context | KV cache | prefill FLOP/token | decode FLOP/token |
//     prefill FLOP/byte | decode FLOP/byte |           (one line in the output, wrapped here)
//   |---|--:|--:|--:|--:|--:|--:|--:|--:|
//   | <name> | <count> | <bytes> | <N> | <bytes> | <si> | <si> | <si> | <si> |
// with N = min(options.context, max_position_embeddings) and, per row:
//   parameters         format_count(count_parameters(config).total())
//   weights            format_bytes(memory_estimate(config, prefill(N, B), bytes).weights)
//   context            N, plain digits
//   KV cache           format_bytes(the KV cache of N positions and B rows)
//   prefill FLOP/token format_si(forward_flops(config, prefill(N, B)).total() / (B x N))
//   decode FLOP/token  format_si(forward_flops(config, decode_step(N - 1, B)).total() / B)
//   prefill FLOP/byte  format_si(arithmetic_intensity(config, prefill(N, B), bytes))
//   decode FLOP/byte   format_si(arithmetic_intensity(config, decode_step(N - 1, B), bytes))
// (the divisions in double). No configs: the two header lines only. InvalidArgument for bad options
// (check_table_options) or a bad config.
std::string efficiency_table(std::span<const NamedConfig> configs, const TableOptions& options = {});

// ---------------------------------------------------------------------------------------------
// Given (given.cpp): checks and number formatting
// ---------------------------------------------------------------------------------------------

void check_machine(const Machine& machine);             // InvalidArgument naming the field
void check_table_options(const TableOptions& options);  // context >= 1, batch >= 1, bytes 1..8
// 494005120 -> "494,005,120".
std::string format_count(std::int64_t n);
// Powers of 1024 with three significant digits: 512 -> "512 B", 2048 -> "2.00 KiB",
// 82560 -> "80.6 KiB", 988010240 -> "942 MiB".
std::string format_bytes(std::int64_t bytes);
// Powers of 1000 with three significant digits: 0.5083 -> "0.51", 3.98 -> "3.98", 512 -> "512",
// 42112 -> "42.1 k", 1.076e9 -> "1.08 G" (prefixes k M G T P E).
std::string format_si(double value);

}  // namespace llm
