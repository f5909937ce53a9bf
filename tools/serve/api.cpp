// api.cpp — routes and handlers: POST /v1/completions (JSON or server-sent events), GET /v1/models,
// /health and /metrics; every error as {"error": {"message", "type", "param", "code"}}.
#include "api.h"

#include <chrono>
#include <cstdio>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "llm/errors.h"

namespace llm::serve {

namespace {

using Json = nlohmann::ordered_json;  // fields in the order OpenAI documents them

// How often a quiet stream checks that its client is still there: a request still in the queue, or
// in a long prefill, sends nothing for a while, and a client that left must not keep its place.
constexpr std::chrono::milliseconds kStreamPoll{50};

std::string dump(const Json& j) {
  // Token pieces are bytes: an invalid UTF-8 sequence (a byte-fallback token on its own) becomes U+FFFD.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json error_body(const ApiError& e) {
  return {{"error",
           {{"message", e.what()},
            {"type", e.type()},
            {"param", e.param.empty() ? Json(nullptr) : Json(e.param)},
            {"code", e.code.empty() ? Json(nullptr) : Json(e.code)}}}};
}

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  if (e.status == 503) res.set_header("Retry-After", "1");
  res.set_content(dump(error_body(e)), "application/json");
}

Json choice(int index, const std::string& text, const char* finish_reason) {
  return {{"text", text},
          {"index", index},
          {"logprobs", nullptr},
          {"finish_reason", finish_reason ? Json(finish_reason) : Json(nullptr)}};
}

Json usage(std::int64_t prompt, std::int64_t completion) {
  return {
      {"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

std::string sse(const Json& j) { return "data: " + dump(j) + "\n\n"; }

}  // namespace

Api::Api(ApiConfig config, const Tokenizer& tokenizer, EngineLoop& loop, Metrics& metrics)
    : config_(std::move(config)),
      tokenizer_(tokenizer),
      loop_(loop),
      metrics_(metrics),
      started_(std::time(nullptr)) {}

void Api::install(httplib::Server& server) {
  // httplib refuses a Content-Length above this with 413 before reading the body (it skips it).
  server.set_payload_max_length(config_.max_body_bytes);

  // httplib 0.11.4 reads a chunked body on any route without a limit: only the completion route, which
  // counts what it reads, accepts one.
  server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!req.has_header("Transfer-Encoding") || (req.method == "POST" && req.path == "/v1/completions"))
      return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, ApiError(400, "a chunked request body is only accepted by POST /v1/completions"));
    return httplib::Server::HandlerResponse::Handled;
  });

  server.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res,
                                        const httplib::ContentReader& reader) {
    try {
      completions(req, res, reader);
    } catch (const ApiError& e) {
      send_error(res, e);
    }
  });
  server.Get("/v1/completions", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Allow", "POST");
    send_error(res, ApiError(405, "GET /v1/completions: completions are created with POST"));
  });

  server.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    const Json model = {{"id", config_.model.id},
                        {"object", "model"},
                        {"created", started_},
                        {"owned_by", "llm-lab"},
                        {"max_model_len", config_.model.context},  // vLLM's extension: the context
                        {"engine", config_.engine}};
    res.set_content(dump({{"object", "list"}, {"data", Json::array({model})}}), "application/json");
  });

  server.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const bool draining = loop_.draining();
    res.status = draining ? 503 : 200;  // a load balancer stops sending work to a server shutting down
    res.set_content(dump({{"status", draining ? "draining" : "ok"}, {"engine", config_.engine}}),
                    "application/json");
  });

  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(), "text/plain; version=0.0.4");
  });

  // Whatever httplib answers by itself (no route, a malformed request line, a body over the limit)
  // still gets OpenAI's error shape; a body a handler already wrote is left alone.
  server.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                       httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message;
    switch (res.status) {
      case 404:
        message = "no route " + req.method + " " + req.path +
                  ": this server answers POST /v1/completions, GET /v1/models, GET /health and GET /metrics";
        break;
      case 413:
        message = detail::concat("the request body is larger than the limit of ", config_.max_body_bytes,
                                 " bytes (--max-body-bytes)");
        break;
      case 400:
        message = "malformed HTTP request";
        break;
      default:
        message = detail::concat("HTTP status ", res.status);
    }
    send_error(res, ApiError(res.status, message));
    return httplib::Server::HandlerResponse::Handled;
  }));

  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, ApiError(500, "internal server error: " + what, "", "internal_error"));
  });

  server.set_logger(
      [this](const httplib::Request&, const httplib::Response& res) { metrics_.on_response(res.status); });
}

void Api::completions(const httplib::Request& req, httplib::Response& res,
                      const httplib::ContentReader& reader) {
  // The body, never more than the limit in memory. Past the limit the rest is read and dropped, so the
  // connection stays in step for the next request (httplib does the same for a Content-Length body).
  std::string body;
  std::size_t received = 0;
  const bool complete = reader([&](const char* data, std::size_t n) {
    received += n;
    if (received <= config_.max_body_bytes) body.append(data, n);
    return true;
  });
  if (res.status == 413 || received > config_.max_body_bytes) {
    // httplib skipped a Content-Length body unread; a chunked one was read (and dropped) to its end.
    const std::string size =
        received > config_.max_body_bytes ? std::to_string(received) : req.get_header_value("Content-Length");
    throw ApiError(413,
                   detail::concat("the request body is ", size, " bytes, more than the limit of ",
                                  config_.max_body_bytes, " bytes (--max-body-bytes)"),
                   "", "request_too_large");
  }
  if (!complete)
    throw ApiError(400, "the request body could not be read (connection closed or malformed chunks)");

  std::shared_ptr<Job> job = loop_.submit(parse_completion_request(body, config_.model, tokenizer_));
  std::string id;
  {
    std::lock_guard lock(mu_);
    char buf[40];
    std::snprintf(buf, sizeof buf, "cmpl-%llx-%llu", static_cast<unsigned long long>(started_),
                  static_cast<unsigned long long>(next_id_++));
    id = buf;
  }
  if (job->request().stream) return stream(job, id, res);

  // Not streamed: this thread waits for the whole answer. (httplib 0.11.4 shows a handler no sign of
  // its client until it writes, so a client that leaves is noticed only at the end: at most max_tokens
  // steps are spent for nothing.)
  job->wait_over();
  if (const auto error = job->error()) throw *error;
  Json choices = Json::array();
  std::int64_t prompt_tokens = 0, completion_tokens = 0;
  const std::vector<ChoiceResult> results = job->results();
  for (std::size_t i = 0; i < results.size(); ++i) {
    choices.push_back(choice(static_cast<int>(i), results[i].text, results[i].finish_reason));
    prompt_tokens += results[i].prompt_tokens;
    completion_tokens += results[i].completion_tokens;
  }
  const Json answer = {{"id", id},
                       {"object", "text_completion"},
                       {"created", std::time(nullptr)},
                       {"model", config_.model.id},
                       {"choices", std::move(choices)},
                       {"usage", usage(prompt_tokens, completion_tokens)}};
  res.set_content(dump(answer), "application/json");
}

void Api::stream(const std::shared_ptr<Job>& job, const std::string& id, httplib::Response& res) {
  {
    std::lock_guard lock(mu_);
    ++open_streams_;
  }
  const std::time_t created = std::time(nullptr);
  const auto chunk = [this, id, created](Json choices) {
    return Json{{"id", id},
                {"object", "text_completion"},
                {"created", created},
                {"model", config_.model.id},
                {"choices", std::move(choices)}};
  };
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      // Called again and again until done(): each call waits for news, then writes it as events.
      [this, job, chunk](std::size_t, httplib::DataSink& sink) {
        std::vector<Delta> deltas;
        const bool over = job->wait(kStreamPoll, &deltas);
        if (!sink.is_writable()) return false;  // the client is gone: the releaser below cancels the job
        std::string out;
        for (const Delta& d : deltas)
          if (!d.text.empty() || d.finish_reason)
            out += sse(chunk(Json::array({choice(d.index, d.text, d.finish_reason)})));
        if (over) {
          if (const auto error = job->error()) {
            out += sse(error_body(*error));  // and no [DONE]: the answer is incomplete
          } else {
            if (job->request().include_usage) {
              std::int64_t prompt = 0, completion = 0;
              for (const ChoiceResult& r : job->results()) {
                prompt += r.prompt_tokens;
                completion += r.completion_tokens;
              }
              Json last = chunk(Json::array());
              last["usage"] = usage(prompt, completion);
              out += sse(last);
            }
            out += "data: [DONE]\n\n";
          }
        }
        if (!out.empty() && !sink.write(out.data(), out.size())) return false;
        if (over) sink.done();
        return true;
      },
      // Runs when the response is destroyed, however the stream ended: a job still running has lost its
      // client (or the server is stopping), so its requests are aborted and their blocks freed.
      [this, job](bool) {
        if (!job->over()) loop_.cancel(job);
        {
          std::lock_guard lock(mu_);
          --open_streams_;
        }
        streams_closed_.notify_all();
      });
}

bool Api::wait_streams_closed(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return streams_closed_.wait_until(lock, deadline, [&] { return open_streams_ == 0; });
}

}  // namespace llm::serve
