// engine_loop.cpp — the engine thread: take the inbox, abort what was cancelled, submit what arrived,
// step, turn tokens into text for the waiting HTTP threads, publish the gauges; sleep when idle.
#include "engine_loop.h"

#include <pthread.h>

#include <iostream>
#include <set>
#include <utility>

#include "llm/errors.h"

namespace llm::serve {

namespace {

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Job: where an HTTP thread and the engine thread meet
// ---------------------------------------------------------------------------------------------

Job::Job(CompletionRequest request)
    : request_(std::move(request)),
      arrived_(Clock::now()),
      results_(request_.prompts.size()),
      unfinished_(request_.prompts.size()) {}

bool Job::wait(std::chrono::milliseconds timeout, std::vector<Delta>* out) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return over_ || !deltas_.empty(); });
  if (out) {
    for (Delta& d : deltas_) out->push_back(std::move(d));
  }
  deltas_.clear();
  return over_;
}

void Job::wait_over() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return over_; });
}

std::optional<ApiError> Job::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

bool Job::over() const {
  std::lock_guard lock(mu_);
  return over_;
}

std::vector<ChoiceResult> Job::results() const {
  std::lock_guard lock(mu_);
  return results_;
}

void Job::post(Delta delta) {
  std::lock_guard lock(mu_);
  if (over_) return;
  deltas_.push_back(std::move(delta));
  cv_.notify_all();
}

void Job::finish_choice(int index, ChoiceResult result, std::string last_text) {
  std::lock_guard lock(mu_);
  if (over_) return;
  if (request_.stream) deltas_.push_back({index, std::move(last_text), result.finish_reason});
  results_[static_cast<std::size_t>(index)] = std::move(result);
  if (--unfinished_ == 0) over_ = true;
  cv_.notify_all();
}

void Job::fail(const ApiError& error) {
  std::lock_guard lock(mu_);
  if (over_) return;
  error_ = error;
  over_ = true;
  cv_.notify_all();
}

// ---------------------------------------------------------------------------------------------
// EngineLoop: the HTTP side
// ---------------------------------------------------------------------------------------------

EngineLoop::EngineLoop(const CausalLM& model, const Tokenizer& tokenizer, LoopConfig config, Metrics& metrics)
    : model_(model),
      tokenizer_(tokenizer),
      config_(config),
      metrics_(metrics),
      engine_(std::make_unique<Engine>(model, config.engine)) {
  publish(0);
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "llm-engine");  // for top -H and the load test's CPU split
}

EngineLoop::~EngineLoop() { stop(); }

std::shared_ptr<Job> EngineLoop::submit(CompletionRequest request) {
  const std::size_t n = request.prompts.size();
  if (n > config_.max_queue)
    throw ApiError(400,
                   detail::concat("prompt has ", n, " strings: more than the ", config_.max_queue,
                                  " requests the queue can ever hold (--max-queue)"),
                   "prompt");
  auto job = std::make_shared<Job>(std::move(request));
  {
    std::lock_guard lock(mu_);
    if (draining_ || stopping_)
      throw ApiError(503, "the server is shutting down and takes no new requests", "", "shutting_down");
    const std::size_t queued = engine_waiting_ + inbox_choices_;
    if (queued + n > config_.max_queue)
      throw ApiError(
          503,
          detail::concat("the queue is full: ", queued, " requests are waiting for admission, ", n,
                         " more would pass the limit of ", config_.max_queue, " (--max-queue); retry later"),
          "", "queue_full");
    inbox_.push_back(job);
    inbox_choices_ += n;
  }
  wake_.notify_one();
  return job;
}

void EngineLoop::cancel(const std::shared_ptr<Job>& job) {
  {
    std::lock_guard lock(mu_);
    cancels_.push_back(job);
  }
  wake_.notify_one();
}

bool EngineLoop::draining() const {
  std::lock_guard lock(mu_);
  return draining_;
}

void EngineLoop::begin_drain() {
  std::lock_guard lock(mu_);
  draining_ = true;
}

bool EngineLoop::wait_idle(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return idle_.wait_until(lock, deadline, [&] { return inbox_choices_ == 0 && live_requests_ == 0; });
}

void EngineLoop::abort_all(const ApiError& why) {
  {
    std::lock_guard lock(mu_);
    abort_all_ = why;
  }
  wake_.notify_one();
}

void EngineLoop::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

// ---------------------------------------------------------------------------------------------
// EngineLoop: the engine thread
// ---------------------------------------------------------------------------------------------

void EngineLoop::run() {
  for (;;) {
    std::vector<std::shared_ptr<Job>> incoming, leaving;
    std::optional<ApiError> abort;
    std::size_t popped = 0;
    {
      std::unique_lock lock(mu_);
      // live_ is this thread's own: reading it here, under the lock, is no race.
      wake_.wait(lock, [&] {
        return stopping_ || abort_all_ || !inbox_.empty() || !cancels_.empty() || !live_.empty();
      });
      if (stopping_) break;
      incoming.swap(inbox_);
      leaving.swap(cancels_);
      abort = std::exchange(abort_all_, std::nullopt);
    }
    for (const auto& job : incoming) popped += job->request().prompts.size();
    try {
      // Cancellations first: a client that left must not get a step more than needed.
      for (const auto& job : leaving)
        drop(job, ApiError(499, "the client closed the connection", "", "client_closed"), "aborted");
      if (abort) {
        std::set<std::shared_ptr<Job>> jobs;
        for (const auto& [id, live] : live_) jobs.insert(live.job);
        for (const auto& job : jobs) drop(job, *abort, "aborted");
        for (const auto& job : incoming) job->fail(*abort);
        incoming.clear();
      }
      for (const auto& job : incoming) admit(job);
      if (engine_->has_unfinished()) step();
    } catch (const std::exception& e) {
      // Nothing above should throw (step() catches the engine's own failures); if something does, the
      // server answers every live request with the error instead of dying.
      std::cerr << "serve: engine thread: " << e.what() << "\n";
      const ApiError why(500, std::string("internal error in the engine thread: ") + e.what(), "",
                         "engine_error");
      std::set<std::shared_ptr<Job>> jobs;
      for (const auto& [id, live] : live_) jobs.insert(live.job);
      for (const auto& job : jobs) job->fail(why);
      live_.clear();
      engine_ = std::make_unique<Engine>(model_, config_.engine);
    }
    publish(popped);
    // --step-delay-ms: after publish(), so that the gauges and the queue's count are current meanwhile
    if (config_.step_delay_ms > 0 && !live_.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds(config_.step_delay_ms));
  }
  // Stopped: whatever is left is answered, never left waiting.
  const ApiError why(503, "the server stopped", "", "shutting_down");
  for (auto& [id, live] : live_) live.job->fail(why);
  live_.clear();
  std::lock_guard lock(mu_);
  for (const auto& job : inbox_) job->fail(why);
  inbox_.clear();
  inbox_choices_ = 0;
  live_requests_ = 0;
  idle_.notify_all();
}

void EngineLoop::admit(const std::shared_ptr<Job>& job) {
  if (job->over()) return;  // cancelled before it got here
  const CompletionRequest& r = job->request();
  std::vector<RequestId> ids;
  try {
    for (const auto& prompt : r.prompts)
      ids.push_back(
          engine_->submit({.prompt = prompt,
                           .max_new_tokens = r.max_tokens,
                           .sampling = r.sampling,
                           .seed = r.seed,
                           // TinyStories: BOS starts the next story
                           .eos_token_id = r.ignore_eos ? std::nullopt : std::optional(Tokenizer::kBos)}));
  } catch (const std::exception& e) {
    // The HTTP thread checked everything submit() checks, so this is a disagreement between the two
    // (or a student's engine refusing a good request): the job fails, the others are untouched.
    for (const RequestId id : ids) engine_->abort(id);
    const bool invalid = dynamic_cast<const InvalidArgument*>(&e) != nullptr;
    job->fail(ApiError(invalid ? 400 : 500, std::string("the engine refused the request: ") + e.what()));
    return;
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto& prompt = r.prompts[i];
    live_.emplace(ids[i], Live{.job = job,
                               .index = static_cast<int>(i),
                               .text = TextStream(tokenizer_, prompt.back(), r.stop),
                               .prompt_tokens = static_cast<std::int64_t>(prompt.size()),
                               .generated = 0,
                               .last_token = job->arrived()});
    metrics_.on_admitted(static_cast<std::int64_t>(prompt.size()));
  }
}

void EngineLoop::drop(const std::shared_ptr<Job>& job, const ApiError& why, const char* reason) {
  for (auto it = live_.begin(); it != live_.end();) {
    if (it->second.job != job) {
      ++it;
      continue;
    }
    engine_->abort(it->first);  // its blocks are back in the pool when this returns
    metrics_.on_finished(reason, it->second.generated);
    it = live_.erase(it);
  }
  job->fail(why);
}

void EngineLoop::step() {
  StepResult result;
  try {
    result = engine_->step();
  } catch (const std::exception& e) {
    // A failed step leaves the engine in a state nobody should trust (with --yours, a stub throws
    // NotImplemented here): every live request gets the error and a fresh engine serves what comes next.
    const ApiError why(500, std::string("the engine failed: ") + e.what(), "", "engine_error");
    std::cerr << "serve: " << why.what() << " (" << live_.size() << " requests answered with 500)\n";
    for (auto& [id, live] : live_) {
      metrics_.on_finished("error", live.generated);
      live.job->fail(why);
    }
    live_.clear();
    engine_ = std::make_unique<Engine>(model_, config_.engine);
    return;
  }
  metrics_.on_step(result.num_tokens, static_cast<std::int64_t>(result.preempted.size()));
  const auto now = Clock::now();
  for (const RequestOutput& out : result.outputs) {
    const auto it = live_.find(out.id);
    if (it == live_.end()) continue;  // aborted by this thread (client gone, stop string): answered already
    Live& live = it->second;
    bool stopped = false;
    for (const std::int32_t token : out.new_tokens) {
      if (live.generated++ == 0)
        metrics_.on_first_token(seconds(now - live.job->arrived()));
      else
        metrics_.on_next_token(seconds(now - live.last_token));
      live.last_token = now;
      stopped = live.text.add(token) || stopped;
    }
    if (stopped) {
      if (!out.finished()) engine_->abort(out.id);  // a stop string: its blocks go back now
      finish(out.id, live, "stop");
    } else if (out.finished()) {
      finish(out.id, live, out.finish_reason == FinishReason::kLength ? "length" : "stop");
    } else if (live.job->request().stream) {
      std::string ready = live.text.take_ready();
      if (!ready.empty()) live.job->post({.index = live.index, .text = std::move(ready)});
    }
  }
}

void EngineLoop::finish(RequestId id, Live& live, const char* reason) {
  std::string rest = live.text.take_rest();
  metrics_.on_finished(reason, live.generated);
  live.job->finish_choice(live.index,
                          {.text = live.text.text(),
                           .finish_reason = reason,
                           .prompt_tokens = live.prompt_tokens,
                           .completion_tokens = live.generated},
                          std::move(rest));
  live_.erase(id);  // `live` dangles from here on
}

void EngineLoop::publish(std::size_t popped) {
  EngineGauges g{.waiting = engine_->num_waiting(),
                 .running = engine_->num_running(),
                 .blocks_used = engine_->num_blocks_used(),
                 .blocks_total = engine_->pool().num_blocks(),
                 .block_size = engine_->pool().block_size()};
  {
    std::lock_guard lock(mu_);
    engine_waiting_ = static_cast<std::size_t>(g.waiting);
    inbox_choices_ -= popped;
    live_requests_ = live_.size();
    g.waiting += static_cast<std::int64_t>(inbox_choices_);
    if (inbox_choices_ == 0 && live_requests_ == 0) idle_.notify_all();
  }
  metrics_.set(g);
}

}  // namespace llm::serve
