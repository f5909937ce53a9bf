// compare_dump.cpp — runs lesson 04's CausalLM on one prompt and prints what it computed, one JSON object
// per line: the setup, the model, the logits of a forward pass with its KV cache, and a generation.
// Built twice (compare_dump_student, compare_dump_reference) because the student's and the reference's
// symbols cannot share one program; tools/grade/compare.py runs both and compares their lines.
// Each stage catches its own exceptions, so an unfinished step is reported, never a stack trace; a
// crash is seen by the driver as the missing lines after the last one printed.
// Not here: timing, batches of several prompts, anything the driver cannot compare line by line.
#include <cxxabi.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "causal_lm.h"
#include "cli_args.h"
#include "grade/dump_json.h"
#include "llm/checkpoint.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "llm/model_files.h"
#include "tokenizer.h"

namespace {

using llm::dump::emit;
using llm::dump::float_list;
using llm::dump::list;
using llm::dump::quote;
using llm::dump::type_name;

// The contract's defaults (SamplingParams{}, GenerateOptions::seed), except greedy: a comparison of two
// greedy runs says the most.
const llm::cli::SamplingFlags kDefaultSampling{.params = {.temperature = 0.0f}, .seed = 0};

std::string usage() {
  return R"(usage: compare_dump [options]    (run by tools/grade/compare.py)

  --model-dir DIR            stories260K's folder (default: searched as llm::find_model() does)
  --no-model                 use ModelConfig::lesson() with weights drawn from --weights-seed instead
  --weights-seed N           seed of the drawn weights without the model (default 42)
  -p, --prompt TEXT          prompt, with the model's tokenizer (default "Once upon a time")
  --ids A,B,C                prompt token ids instead of a text (default without the model: 1,17,42,256,7,99,3,511)
  -n N                       tokens to generate (default 24)
)" + llm::cli::sampling_usage(kDefaultSampling);
}

// Runs one stage; an exception becomes {"stage": ..., "status": "not_implemented" | "error", ...}.
template <typename F>
bool stage(const char* name, F&& body) {
  try {
    body();
    return true;
  } catch (const llm::NotImplemented& e) {
    emit(std::string("{\"stage\":") + quote(name) + ",\"status\":\"not_implemented\",\"message\":" + quote(e.what()) + "}");
  } catch (const std::exception& e) {
    emit(std::string("{\"stage\":") + quote(name) + ",\"status\":\"error\",\"type\":" + quote(type_name(e)) +
         ",\"message\":" + quote(e.what()) + "}");
  } catch (...) {
    emit(std::string("{\"stage\":") + quote(name) + ",\"status\":\"error\",\"type\":\"unknown\",\"message\":\"\"}");
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

struct Options {
  std::optional<std::filesystem::path> model_dir;
  bool no_model = false;
  std::uint64_t weights_seed = 42;
  std::string prompt = "Once upon a time";
  std::vector<std::int32_t> ids;
  int max_new_tokens = 24;
  llm::cli::SamplingFlags sampling = kDefaultSampling;
};

template <typename T>
T number(std::string_view flag, std::string_view text) {
  return llm::parse_number<T>(flag, text);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) llm::fail<llm::InvalidArgument>(flag, " needs a value");
      return argv[++i];
    };
    if (flag == "-h" || flag == "--help") {
      std::cout << usage();
      std::exit(0);
    } else if (flag == "--model-dir") {
      o.model_dir = std::filesystem::path(value());
    } else if (flag == "--no-model") {
      o.no_model = true;
    } else if (flag == "--weights-seed") {
      o.weights_seed = number<std::uint64_t>(flag, value());
    } else if (flag == "-p" || flag == "--prompt") {
      o.prompt = value();
    } else if (flag == "--ids") {
      std::string_view rest = value();
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        o.ids.push_back(number<std::int32_t>(flag, rest.substr(0, comma)));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
    } else if (flag == "-n") {
      o.max_new_tokens = number<int>(flag, value());
    } else if (llm::cli::parse_sampling_flag<llm::InvalidArgument>(flag, value, o.sampling)) {
      // --temp, --top-k, --top-p, --repeat-penalty, -s
    } else {
      llm::fail<llm::InvalidArgument>("unknown flag '", flag, "'");
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// The stages
// ---------------------------------------------------------------------------------------------

std::string cache_json(const llm::KVCache& cache) {
  std::ostringstream out;
  out << "{\"layers\":" << cache.num_layers() << ",\"batch\":" << cache.batch() << ",\"capacity\":" << cache.capacity()
      << ",\"seq_length\":" << cache.seq_length() << ",\"bytes_allocated\":" << cache.bytes_allocated()
      << ",\"bytes_used\":" << cache.bytes_used() << ",\"per_layer\":[";
  for (llm::Index l = 0; l < cache.num_layers(); ++l) {
    const llm::LayerKVCache& layer = cache.layer(l);
    out << (l ? "," : "") << "{\"kv_heads\":" << layer.num_kv_heads() << ",\"head_dim\":" << layer.head_dim()
        << ",\"length\":" << layer.length() << ",\"capacity\":" << layer.capacity() << "}";
  }
  out << "]}";
  return out.str();
}

int run(const Options& o) {
  std::optional<llm::ModelFiles> files;
  if (!o.no_model) files = llm::find_model(o.model_dir);
  std::optional<llm::Checkpoint> checkpoint;
  std::optional<llm::Tokenizer> tokenizer;
  llm::ModelConfig config = llm::ModelConfig::lesson();
  if (files) {
    checkpoint = llm::load_checkpoint(files->checkpoint);
    config = checkpoint->config;
    tokenizer = llm::Tokenizer::load(files->tokenizer, config.vocab_size);
  }
  std::vector<std::int32_t> prompt = o.ids;
  if (prompt.empty()) prompt = tokenizer ? tokenizer->encode(o.prompt, /*bos=*/true)
                                         : std::vector<std::int32_t>{1, 17, 42, 256, 7, 99, 3, 511};
  for (const auto id : prompt) llm::check_index(id, config.vocab_size, "prompt token id");
  std::vector<std::string> pieces;
  if (tokenizer)
    for (size_t i = 0; i < prompt.size(); ++i)  // the pieces as stored ("<s>", " Once")
      pieces.push_back(quote(tokenizer->piece(prompt[i])));
  emit("{\"stage\":\"setup\",\"status\":\"ok\",\"source\":" +
       quote(files ? "stories260K" : "ModelConfig::lesson() with weights from seed " + std::to_string(o.weights_seed)) +
       ",\"model\":" + quote(files ? files->checkpoint.string() : "") + ",\"config\":" + quote(config.summary()) +
       ",\"prompt_ids\":" + list(prompt) + ",\"prompt_pieces\":" + list(pieces) +
       ",\"has_tokenizer\":" + (tokenizer ? "true" : "false") + ",\"sampling\":" + quote(llm::cli::describe(o.sampling)) +
       ",\"max_new_tokens\":" + std::to_string(o.max_new_tokens) + "}");

  std::unique_ptr<llm::CausalLM> model;
  const bool built = stage("model", [&] {
    model = std::make_unique<llm::CausalLM>(checkpoint ? llm::CausalLM::from_checkpoint(*checkpoint)
                                                       : llm::CausalLM(config, o.weights_seed));
    emit("{\"stage\":\"model\",\"status\":\"ok\",\"layers\":" + std::to_string(model->layers.size()) + "}");
  });
  if (!built) {
    emit("{\"stage\":\"done\"}");
    return 0;
  }

  const llm::IdTensor ids = llm::make_ids({prompt});
  stage("forward", [&] {
    const llm::CausalLMOutputWithPast out = model->forward(ids, {.use_cache = true});
    const llm::Tensor& logits = out.logits;  // (1, T, V)
    std::string rows = "[";
    if (logits.rank() == 3 && logits.size(0) == 1)
      for (llm::Index t = 0; t < logits.size(1); ++t) {
        if (t) rows += ',';  // (appending piecewise also dodges a g++ 12 -Wrestrict false positive)
        rows += float_list(logits.row(0, t));
      }
    rows += "]";
    emit("{\"stage\":\"forward\",\"status\":\"ok\",\"logits_shape\":" + quote(logits.shape().str()) +
         ",\"logits\":" + rows + ",\"cache\":" + (out.past_key_values ? cache_json(*out.past_key_values) : "null") +
         "}");
  });

  stage("generate", [&] {
    llm::GenerateOptions g{.max_new_tokens = o.max_new_tokens,
                           .sampling = o.sampling.params,
                           .pad_token_id = std::nullopt,
                           .eos_token_id = std::nullopt,
                           .seed = o.sampling.seed};
    const llm::IdTensor seq = model->generate(ids, g);
    std::vector<std::int32_t> tokens(seq.data(), seq.data() + seq.numel());
    std::string text, new_pieces = "[";
    if (tokenizer) {
      text = tokenizer->decode(tokens);
      for (size_t i = prompt.size(); i < tokens.size(); ++i) {
        if (i > prompt.size()) new_pieces += ',';
        new_pieces += quote(tokenizer->decode_piece(tokens[i - 1], tokens[i]));
      }
    }
    new_pieces += "]";
    emit("{\"stage\":\"generate\",\"status\":\"ok\",\"shape\":" + quote(seq.shape().str()) + ",\"tokens\":" +
         list(tokens) + ",\"pieces\":" + new_pieces + ",\"text\":" + quote(text) + "}");
  });
  emit("{\"stage\":\"done\"}");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {  // bad flags or an unreadable model: not the student's code
    emit("{\"stage\":\"setup\",\"status\":\"error\",\"type\":" + quote(type_name(e)) + ",\"message\":" +
         quote(e.what()) + "}");
    return 2;
  }
}
