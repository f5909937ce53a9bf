// completion_request.h — the body of POST /v1/completions: parsed, checked field by field and turned
// into token ids for the engine. Every refusal is an ApiError naming the field, the value and the limit;
// the HTTP layer sends it in OpenAI's error shape. Not here: chat messages, logprobs, echo, best_of,
// n > 1, suffix, logit_bias, presence/frequency penalties (each refused by name when asked for), and
// prompts given as token ids.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "llm/tensor.h"  // Index
#include "sampler.h"     // lesson 04 (reference): SamplingParams
#include "tokenizer.h"   // lesson 01 (reference)

namespace llm::serve {

// An HTTP error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
struct ApiError : std::runtime_error {
  ApiError(int status, const std::string& message, std::string param = {}, std::string code = {})
      : std::runtime_error(message), status(status), param(std::move(param)), code(std::move(code)) {}
  int status;         // 400, 404, 405, 413, 500, 503
  std::string param;  // the request field at fault; empty: null
  std::string code;   // a machine-readable reason ("context_length_exceeded"); empty: null
  // "invalid_request_error" for the client's mistakes (4xx), "server_error" otherwise.
  const char* type() const { return status < 500 ? "invalid_request_error" : "server_error"; }
};

// What a request is checked against: fixed when the server starts.
struct ServedModel {
  std::string id;           // the `model` name clients use: the checkpoint's file stem, "stories260K"
  int context = 0;          // max_position_embeddings: prompt + max_tokens must fit
  Index block_size = 0;     // the engine's pool: a request whose positions need more blocks than
  Index num_blocks = 0;     //   the whole pool could never run
  int max_piece_bytes = 0;  // the tokenizer's longest piece: bounds the tokens a prompt of n bytes needs
};

// Limits of the API itself (beyond the model's).
inline constexpr std::size_t kMaxPrompts = 64;     // strings in one `prompt` array
inline constexpr std::size_t kMaxStops = 4;        // strings in `stop` (OpenAI's limit)
inline constexpr std::size_t kMaxStopBytes = 256;  // bytes in one stop string
inline constexpr double kMaxTemperature = 2.0;     // OpenAI's range is [0, 2]
inline constexpr int kDefaultMaxTokens = 16;       // OpenAI's default for completions

// A checked request. Sampling defaults are OpenAI's (temperature 1, top_p 1) with top_k and the
// repetition penalty off; every prompt of an array gets the same values and the same seed, so choice i
// equals a single request for prompt i.
struct CompletionRequest {
  std::vector<std::vector<std::int32_t>> prompts;  // one per choice: BOS, then the encoded text
  int max_tokens = kDefaultMaxTokens;
  SamplingParams sampling{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .repetition_penalty = 1.0f};
  std::uint64_t seed = 0;  // given, or drawn at random when absent
  std::vector<std::string> stop;
  bool stream = false;
  bool ignore_eos = false;     // vLLM's extension: run to max_tokens (or a stop string) through BOS
  bool include_usage = false;  // stream_options.include_usage: a last chunk with the token counts
};

// Parses and checks `body`, then encodes each prompt (BOS first, like generate). ApiError 400 for
// malformed JSON, a wrong type, an unknown or unsupported field, a value out of range, or a prompt that
// with max_tokens does not fit the context or the pool; 404 for a `model` other than the served one.
CompletionRequest parse_completion_request(std::string_view body, const ServedModel& model,
                                           const Tokenizer& tokenizer);

}  // namespace llm::serve
