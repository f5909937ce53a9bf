// metrics.h — what GET /metrics serves, in Prometheus' text format (version 0.0.4): counters of
// responses, requests and tokens, gauges of the queue and the block pool, and histograms of the time
// to first token and the time per output token. Written by the engine and HTTP threads, read by
// /metrics: one mutex. Not here: labels per client or per model, summaries (quantiles are computed by
// whoever scrapes the histograms).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace llm::serve {

// Cumulative buckets: counts_[i] = observations <= bounds_[i]; the last bucket is +Inf.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  void render(std::string& out, const char* name, const char* help) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // one per bound, then +Inf
  double sum_ = 0.0;
  std::uint64_t count_ = 0;
};

// The engine's state after a step, copied by the engine thread.
struct EngineGauges {
  std::int64_t waiting =
      0;  // requests queued for admission: the engine's waiting queue + not yet handed over
  std::int64_t running = 0;      // requests in the running batch
  std::int64_t blocks_used = 0;  // KV blocks held by requests
  std::int64_t blocks_total = 0;
  std::int64_t block_size = 0;
};

class Metrics {
 public:
  Metrics();
  void on_response(int status);                  // every HTTP response
  void on_admitted(std::int64_t prompt_tokens);  // a request reached the engine
  void on_first_token(double seconds_since_arrival);
  void on_next_token(double seconds_since_previous);
  void on_finished(const std::string& reason, std::int64_t generated);  // stop, length, aborted, error
  void on_step(std::int64_t tokens, std::int64_t preempted);
  void set(const EngineGauges& gauges);
  EngineGauges gauges() const;
  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::map<int, std::uint64_t> responses_;         // by HTTP status
  std::map<std::string, std::uint64_t> finished_;  // by finish reason
  std::uint64_t admitted_ = 0, prompt_tokens_ = 0, generation_tokens_ = 0;
  std::uint64_t steps_ = 0, step_tokens_ = 0, preemptions_ = 0;
  EngineGauges gauges_;
  Histogram ttft_, tpot_;
};

}  // namespace llm::serve
