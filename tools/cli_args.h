// cli_args.h — the sampling flags the command-line programs share (generate, compare_dump): one parser,
// one set of names (llama.cpp's), one place where each value's limit is checked and named. A program
// passes its own defaults; the limits are the sampler's (lesson 04's sampler.h), so a flag is refused
// with the same bound validate() would apply, named after the flag and quoting the text as typed.
// Not here: each program's other flags, its usage text.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "llm/errors.h"
#include "llm/parse_number.h"
#include "sampler.h"

namespace llm::cli {

struct SamplingFlags {
  SamplingParams params;  // temperature, top_k, top_p, repetition_penalty
  std::uint64_t seed = 0;
};

// The usage lines of the flags below, with the program's defaults.
inline std::string sampling_usage(const SamplingFlags& d) {
  const auto num = [](float x) { return detail::concat(x); };
  return "      --temp T               temperature; 0 = greedy (default " + num(d.params.temperature) +
         ")\n"
         "      --top-k K              keep the K most likely tokens; 0 = off (default " +
         std::to_string(d.params.top_k) +
         ")\n"
         "      --top-p P              nucleus sampling in (0, 1]; 1 = off (default " + num(d.params.top_p) +
         ")\n"
         "      --repeat-penalty R     CTRL repetition penalty in [" + num(kMinRepetitionPenalty) + ", " +
         num(kMaxRepetitionPenalty) + "]; 1 = off (default " + num(d.params.repetition_penalty) +
         ")\n"
         "  -s, --seed N               sampling seed, an unsigned integer (default " + std::to_string(d.seed) + ")\n";
}

// If `flag` is one of the sampling flags, reads its value into `flags`, checks it against its limit and
// returns true (an E names the flag, the text as typed and the limit); otherwise returns false.
// `value()` yields the flag's argument (the program's own "needs a value" handling).
template <typename E, typename Value>
bool parse_sampling_flag(std::string_view flag, Value&& value, SamplingFlags& flags) {
  SamplingParams& p = flags.params;
  if (flag == "--temp") {
    const std::string_view text = value();
    p.temperature = parse_number<float, E>(flag, text);
    if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature))
      fail<E>(flag, " = ", text, " must be finite and >= 0 (0 = greedy)");
  } else if (flag == "--top-k") {
    p.top_k = parse_number<int, E>(flag, value());
    if (p.top_k < 0) fail<E>(flag, " = ", p.top_k, " must be >= 0 (0 = off)");
  } else if (flag == "--top-p") {
    const std::string_view text = value();
    p.top_p = parse_number<float, E>(flag, text);
    if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) fail<E>(flag, " = ", text, " must be in (0, 1]");
  } else if (flag == "--repeat-penalty") {
    const std::string_view text = value();
    p.repetition_penalty = parse_number<float, E>(flag, text);
    if (!(p.repetition_penalty >= kMinRepetitionPenalty && p.repetition_penalty <= kMaxRepetitionPenalty))
      fail<E>(flag, " = ", text, " must be in [", kMinRepetitionPenalty, ", ", kMaxRepetitionPenalty, "] (1 = off)");
  } else if (flag == "-s" || flag == "--seed") {
    flags.seed = parse_number<std::uint64_t, E>(flag, value());
  } else {
    return false;
  }
  return true;
}

// One line for a log or a report header: "greedy" or "temperature 0.8, top-k 40, top-p 0.9, ...".
inline std::string describe(const SamplingFlags& f) {
  const SamplingParams& p = f.params;
  std::string out = p.temperature <= 0.0f ? std::string("greedy")
                                          : detail::concat("temperature ", p.temperature, ", top-k ", p.top_k,
                                                           ", top-p ", p.top_p, ", seed ", f.seed);
  if (p.repetition_penalty != 1.0f) out += detail::concat(", repetition penalty ", p.repetition_penalty);
  return out;
}

}  // namespace llm::cli
