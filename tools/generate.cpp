// generate.cpp — the demo program: load stories260K, encode a prompt, stream a story from the reference
// CausalLM and report prefill time, decode speed and KV-cache bytes. Flags follow llama.cpp's names.
// Not here: chat templates, batching several prompts, multi-threading, anything but llama2.c files.
#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "causal_lm.h"
#include "cli_args.h"
#include "llm/checkpoint.h"
#include "llm/errors.h"
#include "llm/model_files.h"
#include "tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

// Bad command line: printed as one line, exit status 2.
struct UsageError : llm::InvalidArgument {
  using llm::InvalidArgument::InvalidArgument;
};

// llama.cpp's defaults (greedy unless --temp is given).
const llm::cli::SamplingFlags kDefaultSampling{
    .params = {.temperature = 0.0f, .top_k = 40, .top_p = 0.9f, .repetition_penalty = 1.0f}, .seed = 42};

std::string usage() {
  return R"(usage: generate [options]

Generate text with the reference Llama (lesson 04's reference) on stories260K.

  -p, --prompt TEXT          prompt (default "Once upon a time")
  -n, --max-new-tokens N     tokens to generate, 0..511 (default 256); stops early at BOS (id 1),
                             which separates TinyStories stories, as llama2.c does
)" + llm::cli::sampling_usage(kDefaultSampling) +
         R"(      --no-cache             recompute the whole sequence every step (no KV cache)
      --compare-no-cache     run with the KV cache, then without it; print both speeds and the speedup
      --model-dir DIR        folder holding stories260K.bin and tok512.bin
      --model FILE           checkpoint file (llama2.c format)
      --tokenizer FILE       tokenizer file (llama2.c format)
  -h, --help                 this text

The model is searched in: --model-dir, $LLM_MODEL_DIR, models/stories260K in the repository,
../shared/models/stories260K. `./llm model` downloads it (sha256-checked).
Exit status: 0 success, 1 runtime error (missing or corrupt model...), 2 bad command line.
)";
}

struct Options {
  std::string prompt = "Once upon a time";
  int max_new_tokens = 256;
  llm::cli::SamplingFlags sampling = kDefaultSampling;
  bool no_cache = false;
  bool compare = false;
  std::optional<std::filesystem::path> model_dir, model, tokenizer;
};

template <typename T>
T parse_number(std::string_view flag, std::string_view text) {
  return llm::parse_number<T, UsageError>(flag, text);
}

// The offset of the first byte that is not well-formed UTF-8 (overlong forms, surrogates and code
// points past U+10FFFF count as malformed), or nullopt when the whole string is valid.
std::optional<size_t> first_invalid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
    if (extra < 0 || i + static_cast<size_t>(extra) >= s.size() + (extra == 0 ? 1 : 0)) return i;
    std::uint32_t cp = extra == 0 ? c : c & (0x3Fu >> extra);
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      if ((cc >> 6) != 0x2) return i;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += static_cast<size_t>(extra) + 1;
  }
  return std::nullopt;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) llm::fail<UsageError>(flag, " needs a value");
      return argv[++i];
    };
    if (flag == "-h" || flag == "--help") {
      std::cout << usage();
      std::exit(0);
    } else if (flag == "-p" || flag == "--prompt") {
      o.prompt = value();
    } else if (flag == "-n" || flag == "--max-new-tokens") {
      o.max_new_tokens = parse_number<int>(flag, value());
    } else if (llm::cli::parse_sampling_flag<UsageError>(flag, value, o.sampling)) {
      // --temp, --top-k, --top-p, --repeat-penalty, -s: read and checked against their limits
    } else if (flag == "--no-cache") {
      o.no_cache = true;
    } else if (flag == "--compare-no-cache") {
      o.compare = true;
    } else if (flag == "--model-dir") {
      o.model_dir = std::filesystem::path(value());
    } else if (flag == "--model") {
      o.model = std::filesystem::path(value());
    } else if (flag == "--tokenizer") {
      o.tokenizer = std::filesystem::path(value());
    } else {
      llm::fail<UsageError>("unknown flag '", flag, "' (see --help)");
    }
  }
  if (o.max_new_tokens < 0) llm::fail<UsageError>("--max-new-tokens = ", o.max_new_tokens, " must be >= 0");
  if (const auto bad = first_invalid_utf8(o.prompt)) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(o.prompt[*bad])));
    llm::fail<UsageError>("--prompt is not valid UTF-8 at byte ", *bad, " (", hex, ")");
  }
  if (o.no_cache && o.compare) llm::fail<UsageError>("--no-cache and --compare-no-cache exclude each other");
  return o;
}

struct RunStats {
  std::vector<std::int32_t> tokens;  // prompt + generated
  double prefill_ms = 0.0;           // until the first new token was chosen
  double decode_s = 0.0;             // every later step
  std::size_t kv_bytes = 0;
};

RunStats run(const llm::CausalLM& model, const std::vector<std::int32_t>& prompt, const Options& o, bool use_cache,
             const llm::Tokenizer* stream_to_stdout) {
  const auto start = Clock::now();
  auto first_step = start;
  int steps = 0;
  std::int32_t prev = prompt.back();
  llm::GenerateOptions g{.max_new_tokens = o.max_new_tokens,
                         .sampling = o.sampling.params,
                         .pad_token_id = std::nullopt,
                         .eos_token_id = llm::Tokenizer::kBos,  // TinyStories: BOS starts the next story
                         .seed = o.sampling.seed,
                         .attention_mask = nullptr,
                         .use_cache = use_cache,
                         .on_step = [&](std::span<const std::int32_t> chosen) {
                           if (steps++ == 0) first_step = Clock::now();
                           if (stream_to_stdout && chosen[0] != llm::Tokenizer::kBos) {
                             std::cout << stream_to_stdout->decode_piece(prev, chosen[0]) << std::flush;
                             prev = chosen[0];
                           }
                         }};
  const llm::IdTensor ids = llm::make_ids({prompt});
  const llm::IdTensor out = model.generate(ids, g);
  const auto end = Clock::now();
  RunStats s;
  s.tokens.assign(out.data(), out.data() + out.numel());
  s.prefill_ms = std::chrono::duration<double, std::milli>(first_step - start).count();
  s.decode_s = std::chrono::duration<double>(end - first_step).count();
  if (use_cache) s.kv_bytes = llm::kv_cache_bytes(model.config(), out.size(1));
  return s;
}

// Everything was checked before generating, so an InvalidArgument from inside generate() can only be
// the sampler refusing the model's own numbers (NaN or +inf logits): name the file they came from.
RunStats run_checked(const llm::CausalLM& model, const std::vector<std::int32_t>& prompt, const Options& o,
                     bool use_cache, const llm::Tokenizer* stream_to_stdout, const std::filesystem::path& checkpoint) {
  try {
    return run(model, prompt, o, use_cache, stream_to_stdout);
  } catch (const llm::InvalidArgument& e) {
    std::cout << std::endl;
    llm::fail<llm::FormatError>("checkpoint ", checkpoint.string(), " gives logits the sampler refuses (", e.what(),
                                "): its weights are corrupt or overflow float32");
  }
}

// A lower bound on the tokens of `bytes` bytes of prompt: BOS, then the dummy-prefix space and the text,
// each token covering at most `max_piece` bytes.
std::int64_t min_prompt_tokens(std::size_t bytes, int max_piece) {
  if (bytes == 0) return 1;
  const auto covered = static_cast<std::int64_t>(bytes) + 1;
  return 1 + (covered + max_piece - 1) / std::max(max_piece, 1);
}

double decode_rate(const RunStats& s, std::size_t prompt_len) {
  const double steps = static_cast<double>(s.tokens.size() - prompt_len) - 1.0;  // the first came from prefill
  return s.decode_s > 0.0 && steps > 0.0 ? steps / s.decode_s : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    llm::ModelFiles files;
    if (o.model && o.tokenizer) {
      files = {*o.model, *o.tokenizer, o.model->parent_path()};
    } else {
      files = llm::require_model(o.model_dir);
      if (o.model) files.checkpoint = *o.model;
      if (o.tokenizer) files.tokenizer = *o.tokenizer;
    }
    llm::Checkpoint ckpt = llm::load_checkpoint(files.checkpoint);
    const llm::Tokenizer tok = llm::Tokenizer::load(files.tokenizer, ckpt.config.vocab_size);
    const llm::CausalLM model = llm::CausalLM::from_checkpoint(std::move(ckpt));  // the weights move, no copy
    const llm::ModelConfig& cfg = model.config();

    // The length bound, before encoding: every token covers at most max_piece_length bytes of the text
    // (with its dummy-prefix space), so a prompt that is too long for the context is refused at once
    // instead of after encoding all of it. The exact count is checked after encoding.
    const std::int64_t min_tokens = min_prompt_tokens(o.prompt.size(), tok.max_piece_length());
    if (min_tokens + o.max_new_tokens > cfg.max_position_embeddings)
      llm::fail<UsageError>("--prompt of ", o.prompt.size(), " bytes is at least ", min_tokens, " tokens (BOS, and ",
                            tok.max_piece_length(), " bytes per token at most) + --max-new-tokens ", o.max_new_tokens,
                            " = ", min_tokens + o.max_new_tokens, " exceeds the model's context of ",
                            cfg.max_position_embeddings, " positions");
    const std::vector<std::int32_t> prompt = tok.encode(o.prompt, /*bos=*/true);
    const auto total = static_cast<int>(prompt.size()) + o.max_new_tokens;
    if (total > cfg.max_position_embeddings)
      llm::fail<UsageError>("prompt of ", prompt.size(), " tokens + --max-new-tokens ", o.max_new_tokens, " = ", total,
                            " exceeds the model's context of ", cfg.max_position_embeddings, " positions");

    std::cerr << "model: " << files.checkpoint.string() << " (" << cfg.summary() << ")\n";
    const bool use_cache = !o.no_cache;
    std::cout << tok.decode(prompt) << std::flush;
    const RunStats a = run_checked(model, prompt, o, use_cache, &tok, files.checkpoint);
    std::cout << std::endl;  // flush the story before the stats go to stderr

    llm::ModelConfig mha = cfg;
    mha.num_key_value_heads = cfg.num_attention_heads;
    const std::size_t positions = a.tokens.size();
    const double rate = decode_rate(a, prompt.size());
    std::fprintf(stderr,
                 "%s: prompt %zu tokens, generated %zu, prefill %.2f ms, decode %.0f tok/s, KV cache %zu bytes "
                 "(full multi-head attention would need %zu)\n",
                 use_cache ? "kv-cache" : "no-cache", prompt.size(), a.tokens.size() - prompt.size(), a.prefill_ms, rate,
                 llm::kv_cache_bytes(cfg, static_cast<llm::Index>(positions)),
                 llm::kv_cache_bytes(mha, static_cast<llm::Index>(positions)));

    if (o.compare) {
      const RunStats b = run_checked(model, prompt, o, /*use_cache=*/false, nullptr, files.checkpoint);
      const double rate_b = decode_rate(b, prompt.size());
      const double total_a = a.prefill_ms / 1e3 + a.decode_s, total_b = b.prefill_ms / 1e3 + b.decode_s;
      std::fprintf(stderr, "no-cache: same %zu tokens %s, decode %.0f tok/s\n", b.tokens.size() - prompt.size(),
                   b.tokens == a.tokens ? "(identical)" : "(DIFFERENT: a bug)", rate_b);
      std::fprintf(stderr, "speedup with the KV cache: %.1fx (%.1f ms vs %.1f ms for the whole generation)\n",
                   total_b / total_a, total_a * 1e3, total_b * 1e3);
      if (b.tokens != a.tokens) return 1;
    }
    return 0;
  } catch (const UsageError& e) {
    std::cerr << "generate: error: " << e.what() << "\n";
    return 2;
  } catch (const llm::Error& e) {
    std::cerr << "generate: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "generate: unexpected error: " << e.what() << "\n";
    return 1;
  }
}
