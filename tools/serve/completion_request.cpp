// completion_request.cpp — POST /v1/completions' body, field by field: type, range, then the prompt
// against the context and the pool.
#include "completion_request.h"

#include <cmath>
#include <limits>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "llm/errors.h"

namespace llm::serve {

namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& param, const std::string& message, std::string code = {}) {
  throw ApiError(400, message, param, std::move(code));
}

// A value as the message quotes it: scalars as JSON (cut at 60 bytes), containers by kind only, since a
// client's array may be large or deeply nested.
std::string quote(const json& v) {
  if (v.is_array()) return "an array of " + std::to_string(v.size());
  if (v.is_object()) return "an object";
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

double number(const json& v, const char* field) {
  if (!v.is_number()) bad(field, std::string(field) + " must be a number, got " + quote(v));
  return v.get<double>();
}

// An integer in [lo, hi]. 16.0 is refused like "16": OpenAI's fields are typed, and a fractional
// token count has no meaning.
std::int64_t integer(const json& v, const char* field, std::int64_t lo, std::int64_t hi) {
  if (!v.is_number_integer()) bad(field, std::string(field) + " must be an integer, got " + quote(v));
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi))
    bad(field, detail::concat(field, " = ", quote(v), " must be in [", lo, ", ", hi, "]"));
  const auto x = v.get<std::int64_t>();
  if (x < lo || x > hi) bad(field, detail::concat(field, " = ", x, " must be in [", lo, ", ", hi, "]"));
  return x;
}

bool boolean(const json& v, const char* field) {
  if (!v.is_boolean()) bad(field, std::string(field) + " must be true or false, got " + quote(v));
  return v.get<bool>();
}

// `name` is what the message calls the value ("prompt[2]"), `param` the request field it belongs to.
std::string text(const json& v, const std::string& name, const std::string& param) {
  if (!v.is_string()) bad(param, name + " must be a string, got " + quote(v));
  return v.get<std::string>();
}

std::uint64_t random_seed() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen();
}

// Fields OpenAI defines that this server does not implement: accepted only at the value that asks for
// nothing, refused by name otherwise (a client asking for logprobs must not get an answer without them).
bool is_neutral(const std::string& field, const json& v) {
  if (v.is_null()) return true;
  if (field == "n" || field == "best_of") return v.is_number_integer() && v.get<std::int64_t>() == 1;
  if (field == "echo") return v.is_boolean() && !v.get<bool>();
  if (field == "presence_penalty" || field == "frequency_penalty")
    return v.is_number() && v.get<double>() == 0.0;
  if (field == "logit_bias") return v.is_object() && v.empty();
  return false;  // logprobs, suffix: any value asks for something
}

const std::set<std::string> kSupported = {
    "model", "prompt", "max_tokens", "temperature",    "top_p", "top_k",     "repetition_penalty",
    "seed",  "stop",   "stream",     "stream_options", "user",  "ignore_eos"};
const std::set<std::string> kUnsupported = {
    "n", "best_of", "echo", "logprobs", "suffix", "presence_penalty", "frequency_penalty", "logit_bias"};

std::vector<std::string> prompt_texts(const json& v) {
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) bad("prompt", "prompt must be a string or an array of strings, got " + quote(v));
  if (v.empty()) bad("prompt", "prompt is an empty array: give at least one string");
  if (v.size() > kMaxPrompts)
    bad("prompt", detail::concat("prompt has ", v.size(), " strings, more than the limit of ", kMaxPrompts));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i].is_number_integer() || v[i].is_array())
      bad("prompt", "prompt as token ids is not supported: send the text (a string or an array of strings)");
    out.push_back(text(v[i], detail::concat("prompt[", i, "]"), "prompt"));
  }
  return out;
}

}  // namespace

CompletionRequest parse_completion_request(std::string_view body, const ServedModel& model,
                                           const Tokenizer& tokenizer) {
  json j;
  try {
    j = json::parse(body);  // iterative: deep nesting costs memory (bounded by the body), not stack
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    if (const auto at = what.find("] "); at != std::string::npos)
      what.erase(0, at + 2);  // "[json.exception...] "
    bad("", "the request body is not valid JSON: " + what, "invalid_json");
  }
  if (!j.is_object()) bad("", "the request body must be a JSON object, got " + quote(j));

  for (const auto& [field, value] : j.items()) {
    if (kSupported.count(field)) continue;
    if (!kUnsupported.count(field)) bad(field, "unknown field '" + field + "'", "unknown_field");
    if (!is_neutral(field, value))
      bad(field,
          field + " = " + quote(value) + " is not supported by this server (only its neutral value is)",
          "unsupported_field");
  }

  CompletionRequest r;
  const auto get = [&](const char* field) -> const json* {
    const auto it = j.find(field);
    return it == j.end() || it->is_null() ? nullptr : &*it;  // null means "the default", as in OpenAI's SDKs
  };

  if (const json* v = get("model"); v && text(*v, "model", "model") != model.id)
    throw ApiError(404, "model " + quote(*v) + " is not served here; this server serves '" + model.id + "'",
                   "model", "model_not_found");
  const json* prompt = get("prompt");
  if (!prompt) bad("prompt", "prompt is required");
  const std::vector<std::string> texts = prompt_texts(*prompt);

  if (const json* v = get("max_tokens"))
    r.max_tokens = static_cast<int>(integer(*v, "max_tokens", 1, model.context - 1));
  if (const json* v = get("temperature")) {
    const double t = number(*v, "temperature");
    if (!(t >= 0.0 && t <= kMaxTemperature))
      bad("temperature",
          detail::concat("temperature = ", quote(*v), " must be in [0, ", kMaxTemperature, "]"));
    r.sampling.temperature = static_cast<float>(t);
  }
  if (const json* v = get("top_p")) {
    const double p = number(*v, "top_p");
    if (!(p > 0.0 && p <= 1.0)) bad("top_p", "top_p = " + quote(*v) + " must be in (0, 1]");
    r.sampling.top_p = static_cast<float>(p);
  }
  if (const json* v = get("top_k"))  // llama.cpp: 0 is off; vLLM: -1 is off
    r.sampling.top_k = static_cast<int>(integer(*v, "top_k", -1, std::numeric_limits<std::int32_t>::max()));
  if (const json* v = get("repetition_penalty")) {
    const double p = number(*v, "repetition_penalty");
    if (!(p >= kMinRepetitionPenalty && p <= kMaxRepetitionPenalty))  // lesson 04's range (sampler.h)
      bad("repetition_penalty",
          detail::concat("repetition_penalty = ", quote(*v), " must be in [", kMinRepetitionPenalty, ", ",
                         kMaxRepetitionPenalty, "] (1: off)"));
    r.sampling.repetition_penalty = static_cast<float>(p);
  }
  if (const json* v = get("seed")) {
    if (!v->is_number_integer() ||
        (v->is_number_integer() && !v->is_number_unsigned() && v->get<std::int64_t>() < 0))
      bad("seed", "seed must be an integer in [0, 18446744073709551615], got " + quote(*v));
    r.seed = v->get<std::uint64_t>();
  } else {
    r.seed = random_seed();
  }
  if (const json* v = get("stop")) {
    if (v->is_string()) {
      r.stop.push_back(v->get<std::string>());
    } else if (v->is_array()) {
      if (v->size() > kMaxStops)
        bad("stop", detail::concat("stop has ", v->size(), " strings, more than the limit of ", kMaxStops));
      for (std::size_t i = 0; i < v->size(); ++i)
        r.stop.push_back(text((*v)[i], detail::concat("stop[", i, "]"), "stop"));
    } else {
      bad("stop", "stop must be a string or an array of strings, got " + quote(*v));
    }
    for (const std::string& s : r.stop) {
      if (s.empty()) bad("stop", "stop strings must not be empty");
      if (s.size() > kMaxStopBytes)
        bad("stop", detail::concat("a stop string of ", s.size(), " bytes is longer than the limit of ",
                                   kMaxStopBytes));
    }
  }
  if (const json* v = get("stream")) r.stream = boolean(*v, "stream");
  if (const json* v = get("ignore_eos")) r.ignore_eos = boolean(*v, "ignore_eos");
  if (const json* v = get("stream_options")) {
    if (!r.stream) bad("stream_options", "stream_options is only allowed with stream: true");
    if (!v->is_object()) bad("stream_options", "stream_options must be an object, got " + quote(*v));
    for (const auto& [key, value] : v->items()) {
      if (key != "include_usage")
        bad("stream_options", "unknown field 'stream_options." + key + "'", "unknown_field");
      r.include_usage = boolean(value, "stream_options.include_usage");
    }
  }
  if (const json* v = get("user")) text(*v, "user", "user");  // accepted and ignored: no per-user accounting

  // The prompts, last: only now is max_tokens known. A text longer than the context could hold in
  // tokens of the longest piece is refused before encoding, whose merge loop grows with the square of
  // the length.
  const std::size_t max_bytes =
      static_cast<std::size_t>(model.context) * static_cast<std::size_t>(model.max_piece_bytes);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string name =
        texts.size() == 1 && prompt->is_string() ? "prompt" : detail::concat("prompt[", i, "]");
    if (texts[i].size() > max_bytes)
      bad("prompt",
          detail::concat(name, " is ", texts[i].size(), " bytes: more than the model's context of ",
                         model.context, " positions can hold (", model.context, " tokens of at most ",
                         model.max_piece_bytes, " bytes = ", max_bytes, ")"),
          "context_length_exceeded");
    std::vector<std::int32_t> ids = tokenizer.encode(texts[i], /*bos=*/true);
    const auto n = static_cast<std::int64_t>(ids.size()), total = n + r.max_tokens;
    if (total > model.context)
      bad(n >= model.context ? "prompt" : "max_tokens",
          detail::concat(name, " of ", n, " tokens + max_tokens ", r.max_tokens, " = ", total,
                         " exceeds the model's context of ", model.context, " positions"),
          "context_length_exceeded");
    const Index blocks = (total + model.block_size - 1) / model.block_size;
    if (blocks > model.num_blocks)
      bad("max_tokens", detail::concat(name, " of ", n, " tokens + max_tokens ", r.max_tokens, " = ", total,
                                       " positions need ", blocks, " blocks of ", model.block_size,
                                       ", more than the server's pool of ", model.num_blocks, " (--blocks)"));
    r.prompts.push_back(std::move(ids));
  }
  return r;
}

}  // namespace llm::serve
