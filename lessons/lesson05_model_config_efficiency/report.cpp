// report.cpp — lesson 05's report: the efficiency table (step 5) for the course's configs — tiny,
// lesson, stories260K and "Qwen3-0.5B" (Qwen2.5-0.5B's config) — and a roofline verdict for two
// example machines (their numbers are parameters, not measurements). Arithmetic only: no model runs.
// Built twice: lesson05_report_solution (the reference) and lesson05_report_student (your code).
//   lesson05_report_solution [--context N] [--batch B] [--bytes 1..8]
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "llm/config.h"
#include "llm/errors.h"
#include "llm/parse_number.h"
#include "model_stats.h"
#include "roofline.h"

namespace {

struct ExampleMachine {
  const char* name;
  llm::Machine machine;
};

// Round numbers of the right order of magnitude, not any product's datasheet.
const ExampleMachine kMachines[] = {
    {"accelerator, 100 TFLOP/s, 1 TB/s", {100e12, 1e12}},
    {"CPU, 1 TFLOP/s, 50 GB/s", {1e12, 50e9}},
};

// 1.2e-5 -> "12.0 us": three significant digits in s, ms or us.
std::string seconds_text(double s) {
  const char* unit = "s";
  if (s < 1e-3) {
    s *= 1e6;
    unit = "us";
  } else if (s < 1.0) {
    s *= 1e3;
    unit = "ms";
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, s >= 99.95 ? "%.0f %s" : s >= 9.995 ? "%.1f %s" : "%.2f %s", s, unit);
  return buf;
}

void usage(std::FILE* to) {
  std::fprintf(
      to,
      "usage: lesson05_report_{solution,student} [--context N] [--batch B] [--bytes 1..8]\n"
      "  --context N   tokens of context (default 1024; capped at each model's max_position_embeddings)\n"
      "  --batch B     sequences processed together (default 1)\n"
      "  --bytes N     bytes per stored value: 4 fp32 (default, this course's tensors), 2 fp16/bf16,\n"
      "                1 int8\n");
}

int run(int argc, char** argv) {
  llm::TableOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      usage(stdout);
      return 0;
    }
    if (i + 1 >= argc) llm::fail<llm::InvalidArgument>(flag, " needs a value (see --help)");
    const std::string_view value = argv[++i];
    if (flag == "--context")
      options.context = llm::parse_number<llm::Index>(flag, value);
    else if (flag == "--batch")
      options.batch = llm::parse_number<llm::Index>(flag, value);
    else if (flag == "--bytes")
      options.bytes_per_value = llm::parse_number<std::int64_t>(flag, value);
    else
      llm::fail<llm::InvalidArgument>("unknown flag ", flag, " (see --help)");
  }
  llm::check_table_options(options);

  const std::vector<llm::NamedConfig> configs = {
      {"tiny", llm::ModelConfig::tiny()},
      {"lesson", llm::ModelConfig::lesson()},
      {"stories260K", llm::ModelConfig::stories260k()},
      {"Qwen3-0.5B*", llm::ModelConfig::qwen2_5_0_5b()},
  };

  // Everything is computed before anything is printed, so an unwritten step shows as one clear error.
  const std::string table = llm::efficiency_table(configs, options);
  struct Verdicts {
    llm::RooflineEstimate fill, step;
  };
  std::vector<Verdicts> verdicts;
  for (const llm::NamedConfig& c : configs) {
    const llm::Index n = std::min<llm::Index>(options.context, c.config.max_position_embeddings);
    for (const ExampleMachine& m : kMachines)
      verdicts.push_back(
          {llm::roofline(c.config, llm::prefill(n, options.batch), options.bytes_per_value, m.machine),
           llm::roofline(c.config, llm::decode_step(n - 1, options.batch), options.bytes_per_value,
                         m.machine)});
  }

  std::printf("# Lesson 05: what each config costs\n\n");
  std::printf(
      "Context %lld tokens (capped at each model's max_position_embeddings), batch %lld, "
      "%lld bytes per value.\n\n",
      static_cast<long long>(options.context), static_cast<long long>(options.batch),
      static_cast<long long>(options.bytes_per_value));
  std::printf("%s", table.c_str());
  std::printf(
      "\nprefill FLOP/token: the FLOPs of filling the whole context from an empty cache, per token; "
      "decode FLOP/token: the step that completes the context. FLOP/byte: forward FLOPs / "
      "(weight bytes + KV-cache bytes).\n"
      "\\* the course's name; the sizes are Qwen2.5-0.5B's config.json (no q/k/v biases).\n");

  std::printf("\n## Roofline: prefill of the context vs. the decode step that completes it\n\n");
  std::printf("Machines: example parameters, not measurements.\n\n");
  std::printf(
      "| model | machine | ridge FLOP/byte | prefill | prefill time | decode | decode time | decode tokens/s "
      "|\n");
  std::printf("|---|---|--:|---|--:|---|--:|--:|\n");
  size_t next = 0;
  for (const llm::NamedConfig& c : configs)
    for (const ExampleMachine& m : kMachines) {
      const Verdicts& v = verdicts[next++];
      std::printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", c.name.c_str(), m.name,
                  llm::format_si(v.fill.ridge).c_str(), llm::bound_name(v.fill.bound),
                  seconds_text(v.fill.seconds).c_str(), llm::bound_name(v.step.bound),
                  seconds_text(v.step.seconds).c_str(),
                  llm::format_si(static_cast<double>(options.batch) / v.step.seconds).c_str());
    }
  std::printf(
      "\ntime: max(FLOPs / peak, bytes / bandwidth), the roofline's lower bound; decode tokens/s = "
      "batch / decode time.\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const llm::NotImplemented& e) {
    std::fprintf(stderr, "%s: not written yet: %s\n(the reference's report: lesson05_report_solution)\n",
                 argv[0], e.what());
    return 1;
  } catch (const llm::Error& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 2;
  }
}
