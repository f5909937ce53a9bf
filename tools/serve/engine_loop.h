// engine_loop.h — the one thread that owns the lesson-07 Engine. HTTP threads hand it jobs and
// cancellations through a locked inbox; it runs step() while anything is unfinished, turns every new
// token into text (TextStream: stop strings, whole UTF-8 characters) and posts it to the job, whose
// HTTP thread is waiting. The engine is single-threaded by design (engine.h): only this thread calls it.
// Not here: priorities, several engines or models, per-client fairness beyond the engine's FCFS.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "completion_request.h"
#include "engine.h"  // lesson 07: the reference, or the student's build (--yours)
#include "metrics.h"
#include "text_stream.h"

namespace llm::serve {

using Clock = std::chrono::steady_clock;

// News about one choice, for a streaming client: text to send, and in the choice's last delta, how it
// ended ("stop": end of story or a stop string; "length": max_tokens).
struct Delta {
  int index = 0;
  std::string text;
  const char* finish_reason = nullptr;  // nullptr until the choice's last delta
};

struct ChoiceResult {
  std::string text;
  const char* finish_reason = nullptr;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;  // every token the model produced, the final BOS included
};

// One HTTP completion request: one choice per prompt. Made by its HTTP thread, filled by the engine
// thread; the two meet under the job's mutex.
class Job {
 public:
  explicit Job(CompletionRequest request);
  const CompletionRequest& request() const { return request_; }
  Clock::time_point arrived() const { return arrived_; }

  // HTTP side. Waits up to `timeout` for news, moves the deltas posted so far into *out (when given),
  // and returns true once the job is over: every choice finished, or the job failed (error()).
  bool wait(std::chrono::milliseconds timeout, std::vector<Delta>* out);
  void wait_over();
  std::optional<ApiError> error() const;
  std::vector<ChoiceResult> results() const;  // once over without an error: one per prompt, in order
  bool over() const;

 private:
  friend class EngineLoop;  // the engine thread posts through these
  void post(Delta delta);
  void finish_choice(int index, ChoiceResult result, std::string last_text);
  void fail(const ApiError& error);  // no-op when already over

  const CompletionRequest request_;
  const Clock::time_point arrived_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Delta> deltas_;  // posted, not yet taken (streaming jobs only)
  std::vector<ChoiceResult> results_;
  std::size_t unfinished_;
  std::optional<ApiError> error_;
  bool over_ = false;
};

struct LoopConfig {
  EngineConfig engine;
  std::size_t max_queue = 256;  // choices waiting for admission, at most; beyond it submit() gives 503
  int step_delay_ms = 0;        // a pause after every engine step (--step-delay-ms): a slow model, on purpose
};

class EngineLoop {
 public:
  // Builds the engine (InvalidArgument naming the value and the limit for a bad configuration) and
  // starts the engine thread. `model` and `tokenizer` must outlive the loop.
  EngineLoop(const CausalLM& model, const Tokenizer& tokenizer, LoopConfig config, Metrics& metrics);
  ~EngineLoop();
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  // HTTP side. Queues the job for the engine thread. ApiError 503 (with a Retry-After hint) when the
  // server is draining or the queue would pass max_queue; 400 when the job has more choices than the
  // queue can ever hold.
  std::shared_ptr<Job> submit(CompletionRequest request);
  // The job's client is gone: its requests are aborted before the next step, blocks freed.
  void cancel(const std::shared_ptr<Job>& job);
  bool draining() const;

  // Shutdown, from the main thread: refuse new jobs; wait for the live ones until `deadline`; fail the
  // rest with `why` (their blocks freed at once); stop the thread.
  void begin_drain();
  bool wait_idle(Clock::time_point deadline);
  void abort_all(const ApiError& why);
  void stop();

 private:
  // One engine request (one choice of a job): engine thread only.
  struct Live {
    std::shared_ptr<Job> job;
    int index = 0;
    TextStream text;
    std::int64_t prompt_tokens = 0;
    std::int64_t generated = 0;
    Clock::time_point last_token;
  };

  void run();  // the engine thread's loop
  void admit(const std::shared_ptr<Job>& job);
  void drop(const std::shared_ptr<Job>& job, const ApiError& why, const char* reason);
  void step();
  void finish(RequestId id, Live& live, const char* reason);
  void publish(std::size_t popped);  // popped: choices taken from the inbox this round

  const CausalLM& model_;
  const Tokenizer& tokenizer_;
  const LoopConfig config_;
  Metrics& metrics_;
  std::unique_ptr<Engine> engine_;            // engine thread only (after construction)
  std::unordered_map<RequestId, Live> live_;  // engine thread only

  mutable std::mutex mu_;         // guards everything below
  std::condition_variable wake_;  // the engine thread sleeps on it when there is nothing to do
  std::condition_variable idle_;  // wait_idle sleeps on it
  std::vector<std::shared_ptr<Job>> inbox_, cancels_;
  std::size_t inbox_choices_ = 0;   // choices in inbox_
  std::size_t engine_waiting_ = 0;  // published after each step: the engine's waiting queue
  std::size_t live_requests_ = 0;   // published after each step: live_.size()
  std::optional<ApiError> abort_all_;
  bool draining_ = false, stopping_ = false;
  std::thread thread_;  // declared last: starts once everything above exists
};

}  // namespace llm::serve
