// api.h — the HTTP face of the server, on cpp-httplib: the routes, the completion handler (one JSON
// answer, or server-sent events ending in `data: [DONE]`), OpenAI-shaped errors for everything that goes
// wrong, and the body limit. Handlers run on httplib's worker threads: they read and check the body,
// submit to the EngineLoop, wait and write; they never touch the engine.
// Not here: chat completions, embeddings, authentication, TLS, CORS.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>

#include <httplib.h>

#include "completion_request.h"
#include "engine_loop.h"
#include "metrics.h"

namespace llm::serve {

struct ApiConfig {
  ServedModel model;
  std::size_t max_body_bytes = 1 << 20;  // a bigger body gets 413
  std::string engine = "reference";      // which lesson-07 build answers: "reference" or "yours"
};

class Api {
 public:
  Api(ApiConfig config, const Tokenizer& tokenizer, EngineLoop& loop, Metrics& metrics);
  // Routes, error and exception handlers, the body limit and the response counter.
  void install(httplib::Server& server);
  // Shutdown: waits until every event stream has written its end, or `deadline`. True when none is open.
  bool wait_streams_closed(Clock::time_point deadline);

 private:
  void completions(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  void stream(const std::shared_ptr<Job>& job, const std::string& id, httplib::Response& res);

  const ApiConfig config_;
  const Tokenizer& tokenizer_;
  EngineLoop& loop_;
  Metrics& metrics_;
  const std::time_t started_;

  std::mutex mu_;
  std::condition_variable streams_closed_;
  int open_streams_ = 0;
  std::uint64_t next_id_ = 0;
};

}  // namespace llm::serve
