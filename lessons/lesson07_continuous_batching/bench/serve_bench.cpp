// serve_bench.cpp — Google Benchmark for lesson 07: one seeded workload of 256 requests served three
// ways — one request at a time (lesson 04's generate), static batching (lesson 04's generate on batches
// of N, left-padded, run until the batch's longest answer is done) and continuous batching (the engine,
// at most N running) — and the batched decode step that explains the difference. Single-threaded. One
// source, compiled twice: against the reference (lesson07_bench_reference) and the student's code
// (lesson07_bench_student; a stub's NotImplemented turns a row into a skipped one). The baselines are
// lesson 04's reference in both builds: the run script runs them for the reference only.
// Run everything, with the tables and pictures of docs/benchmarks.md: tools/bench/run_benchmarks.sh.
//
// The families (<model>: stories260K or s15Mshape_gqa; all requests arrive at time 0):
//   BM_Serve/<model>/one_at_a_time         each request alone, in arrival order
//   BM_Serve/<model>/static/N:n            batches of n requests in arrival order, one generate() each
//   BM_Serve/<model>/continuous/N:n        Engine{max_running = n}, a pool that never preempts
//   BM_DecodeStep_Batched/<model>/N:n      ONE batched_forward of n sequences decoding at cache length 256
// Counters of BM_Serve: generated tokens per second of CPU time, time to first token and time per output
// token (p50, p99, in ms of CPU time since the start), KV memory in use (mean over time, peak), steps and
// preemptions. --timeline_dir=DIR writes DIR/<model>_<policy>_<n>.tsv: time (s) and KV MiB in use.
//
// Times are CPU time of this thread (CLOCK_THREAD_CPUTIME_ID): other programs on a shared machine do
// not count. Legend: N running requests at most (the batch size), BS block_size, V vocab_size.
#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_models.h"
#include "block_table.h"
#include "causal_lm.h"
#include "engine.h"
#include "kv_cache.h"
#include "llm/rng.h"
#include "model_runner.h"
#include "tests/lesson04_baselines.h"

namespace {

using Ids = std::vector<std::int32_t>;
using llm::bench::ModelId;
using llm::bench::with_model;

// ---------------------------------------------------------------------------------------------
// Helpers (the models, stories260K and the 15M shape: lesson 04's bench/bench_models.h)
// ---------------------------------------------------------------------------------------------

// CPU time of this thread, in seconds.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::string g_timeline_dir;  // --timeline_dir: where the KV-over-time files go (empty: none)

// ---------------------------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------------------------

constexpr int kRequests = 256;

// 256 requests, seeded (llm::Rng(2025)), the same for every policy: prompts uniform in [8, 256] tokens
// of random ids; answers of a geometric length with mean 128 (each token ends the answer with
// probability 1/128: many short ones, a long tail), capped at context - 256 so that any static batch,
// left-padded to its longest prompt, still fits the context; greedy, no eos — the length is the
// workload's, as in vLLM's benchmarks with ignore_eos.
std::vector<llm::Request> workload(const llm::ModelConfig& cfg) {
  llm::Rng rng(2025);
  std::vector<llm::Request> out;
  for (int i = 0; i < kRequests; ++i) {
    llm::Request r;
    const int prompt = 8 + static_cast<int>(rng.next_u64() % 249);
    for (int t = 0; t < prompt; ++t)
      r.prompt.push_back(3 + static_cast<std::int32_t>(rng.next_u64() % (cfg.vocab_size - 3)));
    int len = 1;
    while (rng.uniform() >= 1.0f / 128.0f) ++len;
    r.max_new_tokens = std::min(len, cfg.max_position_embeddings - 256);
    r.sampling.temperature = 0.0f;
    out.push_back(std::move(r));
  }
  return out;
}

// What one policy's run recorded: when each request's tokens came out, and the KV memory in use.
struct Recorder {
  double t0 = thread_seconds();
  std::vector<std::vector<double>> token_times = std::vector<std::vector<double>>(kRequests);  // s since t0
  std::vector<std::pair<double, double>> kv;  // (s since t0, bytes in use from then on)
  long long tokens = 0;
  double now() const { return thread_seconds() - t0; }
  void token(size_t request) {
    token_times[request].push_back(now());
    ++tokens;
  }
  void memory(double bytes) { kv.emplace_back(now(), bytes); }
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void report(benchmark::State& state, const Recorder& rec, const std::string& name) {
  const double total = rec.now();
  std::vector<double> ttft, tpot;
  for (const std::vector<double>& times : rec.token_times) {
    if (times.empty()) continue;
    ttft.push_back(times.front());
    if (times.size() > 1)
      tpot.push_back((times.back() - times.front()) / static_cast<double>(times.size() - 1));
  }
  // KV in use, integrated over time: a step function from one record to the next.
  double area = 0.0, peak = 0.0;
  for (size_t i = 0; i < rec.kv.size(); ++i) {
    const double until = i + 1 < rec.kv.size() ? rec.kv[i + 1].first : total;
    area += rec.kv[i].second * (until - rec.kv[i].first);
    peak = std::max(peak, rec.kv[i].second);
  }
  constexpr double kMiB = 1024.0 * 1024.0;
  state.counters["tokens"] = static_cast<double>(rec.tokens);
  state.counters["seconds"] = total;
  state.counters["tok_per_s"] = static_cast<double>(rec.tokens) / total;
  state.counters["ttft_p50_ms"] = 1e3 * percentile(ttft, 0.50);
  state.counters["ttft_p99_ms"] = 1e3 * percentile(ttft, 0.99);
  state.counters["tpot_p50_ms"] = 1e3 * percentile(tpot, 0.50);
  state.counters["tpot_p99_ms"] = 1e3 * percentile(tpot, 0.99);
  state.counters["kv_mean_mib"] = total > 0 ? area / total / kMiB : 0.0;
  state.counters["kv_peak_mib"] = peak / kMiB;
  if (!g_timeline_dir.empty()) {
    std::ofstream out(g_timeline_dir + "/" + name + ".tsv");
    out << "# seconds\tkv_mib\n";
    for (const auto& [t, bytes] : rec.kv) out << t << '\t' << bytes / kMiB << '\n';
    out << total << '\t' << 0.0 << '\n';
  }
}

// ---------------------------------------------------------------------------------------------
// The three policies
// ---------------------------------------------------------------------------------------------

// One request after the other with lesson 04's generate(): a contiguous cache of prompt + max_new_tokens
// positions for each, for as long as it runs.
void BM_OneAtATime(benchmark::State& state, ModelId id, const std::string& name) {
  with_model(state, id, [&](const llm::CausalLM& model) {
    const std::vector<llm::Request> requests = workload(model.config());
    for (auto _ : state) {
      Recorder rec;
      for (size_t i = 0; i < requests.size(); ++i) {
        const llm::Request& r = requests[i];
        rec.memory(static_cast<double>(llm::kv_cache_bytes(
            model.config(), static_cast<llm::Index>(r.prompt.size()) + r.max_new_tokens)));
        lesson07_baselines::generate_alone(model, r, [&](std::int32_t) { rec.token(i); });
      }
      rec.memory(0.0);
      report(state, rec, name);
    }
  });
}

// Batches of n in arrival order; a batch is one generate() of its longest answer's length, its cache
// n x (longest prompt + that length) positions. A request's tokens stream out with the batch's steps; the
// steps after its own answer is complete are the waste, and the next batch waits for them.
void BM_Static(benchmark::State& state, ModelId id, const std::string& name) {
  with_model(state, id, [&](const llm::CausalLM& model) {
    const std::vector<llm::Request> requests = workload(model.config());
    const size_t n = static_cast<size_t>(state.range(0));
    for (auto _ : state) {
      Recorder rec;
      long long steps = 0;
      for (size_t first = 0; first < requests.size(); first += n) {
        const size_t count = std::min(n, requests.size() - first);
        const std::span<const llm::Request> batch(requests.data() + first, count);
        size_t longest = 0;
        int length = 0;
        for (const llm::Request& r : batch)
          longest = std::max(longest, r.prompt.size()), length = std::max(length, r.max_new_tokens);
        rec.memory(static_cast<double>(llm::kv_cache_bytes(
            model.config(), static_cast<llm::Index>(longest) + length, static_cast<llm::Index>(count))));
        lesson07_baselines::generate_static_batch(model, batch, [&](int step) {
          for (size_t b = 0; b < count; ++b)
            if (step <= batch[b].max_new_tokens) rec.token(first + b);  // padding steps produce nothing
          ++steps;
        });
      }
      rec.memory(0.0);
      report(state, rec, name);
      state.counters["steps"] = static_cast<double>(steps);
    }
  });
}

// The engine with at most n running and a pool that holds n requests of the whole context (so nothing
// is preempted: the comparison is about scheduling, not memory pressure); budget 512 tokens per step.
void BM_Continuous(benchmark::State& state, ModelId id, const std::string& name) {
  with_model(state, id, [&](const llm::CausalLM& model) {
    const std::vector<llm::Request> requests = workload(model.config());
    const llm::Index n = state.range(0), BS = 16;
    const llm::Index context_blocks = (model.config().max_position_embeddings + BS - 1) / BS;
    for (auto _ : state) {
      llm::Engine engine(model, {.num_blocks = n * context_blocks,
                                 .block_size = BS,
                                 .max_running = n,
                                 .max_tokens_per_step = std::max<llm::Index>(512, n)});
      const double block_bytes = static_cast<double>(engine.pool().block_bytes());
      Recorder rec;
      std::map<llm::RequestId, size_t> which;
      for (size_t i = 0; i < requests.size(); ++i) which[engine.submit(requests[i])] = i;
      long long preemptions = 0;
      rec.memory(0.0);
      while (engine.has_unfinished()) {
        const llm::StepResult r = engine.step();
        preemptions += static_cast<long long>(r.preempted.size());
        for (const llm::RequestOutput& o : r.outputs)
          if (!o.new_tokens.empty()) rec.token(which.at(o.id));
        rec.memory(block_bytes * static_cast<double>(engine.num_blocks_used()));
      }
      report(state, rec, name);
      state.counters["steps"] = static_cast<double>(engine.num_steps());
      state.counters["preemptions"] = static_cast<double>(preemptions);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The kernel under the curve: one batched decode step of n sequences
// ---------------------------------------------------------------------------------------------

// n sequences with 256 positions each in their tables (prefilled outside the timed loop); each iteration
// is one batched_forward of one new token per sequence, then every table is cropped back.
void BM_DecodeStep_Batched(benchmark::State& state, ModelId id) {
  with_model(state, id, [&](const llm::CausalLM& model) {
    const llm::ModelConfig& cfg = model.config();
    const llm::Index n = state.range(0), P = 256, BS = 16;
    llm::BlockPool pool(cfg, n * ((P + 1 + BS - 1) / BS + 1), BS);
    std::vector<std::unique_ptr<llm::BlockTable>> tables;
    std::vector<Ids> ids;
    llm::Rng rng(7);
    for (llm::Index i = 0; i < n; ++i) {
      Ids seq;
      for (llm::Index t = 0; t <= P; ++t)
        seq.push_back(3 + static_cast<std::int32_t>(rng.next_u64() % (cfg.vocab_size - 3)));
      ids.push_back(std::move(seq));
      tables.push_back(std::make_unique<llm::BlockTable>(pool));
    }
    for (llm::Index i = 0; i < n; ++i) {  // the prefill, not timed: 256 positions in each table
      tables[static_cast<size_t>(i)]->append(P);
      const llm::BatchEntry e{tables[static_cast<size_t>(i)].get(), 0,
                              std::span(ids[static_cast<size_t>(i)]).first(P), false};
      llm::batched_forward(model, std::span(&e, 1));
    }
    std::vector<llm::BatchEntry> batch;
    for (llm::Index i = 0; i < n; ++i)
      batch.push_back({tables[static_cast<size_t>(i)].get(), P,
                       std::span(ids[static_cast<size_t>(i)]).subspan(P, 1), true});
    for (auto _ : state) {
      for (auto& t : tables) t->append(1);
      llm::Tensor logits = llm::batched_forward(model, batch);
      benchmark::DoNotOptimize(logits.data());
      for (auto& t : tables) t->crop(P);
    }
    state.counters["tok_per_s"] =
        benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
  });
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

void register_all() {
  using benchmark::RegisterBenchmark;
  const std::pair<const char*, ModelId> models[] = {{"stories260K", ModelId::kStories260K},
                                                    {"s15Mshape_gqa", ModelId::kRandomGQA}};
  for (const auto& [model_name, id] : models) {
    const std::string m = model_name;
    // One iteration is the whole workload (seconds to minutes): run it once.
    RegisterBenchmark(("BM_Serve/" + m + "/one_at_a_time").c_str(), BM_OneAtATime, id, m + "_one_at_a_time")
        ->Iterations(1)
        ->Unit(benchmark::kSecond);
    for (int n : {4, 16, 64}) {
      RegisterBenchmark(("BM_Serve/" + m + "/static").c_str(), BM_Static, id,
                        m + "_static_" + std::to_string(n))
          ->Arg(n)
          ->ArgName("N")
          ->Iterations(1)
          ->Unit(benchmark::kSecond);
    }
    for (int n : {1, 2, 4, 8, 16, 32, 64}) {
      if (n == 1 && id == ModelId::kRandomGQA) continue;  // one at a time already shows it (2 minutes)
      RegisterBenchmark(("BM_Serve/" + m + "/continuous").c_str(), BM_Continuous, id,
                        m + "_continuous_" + std::to_string(n))
          ->Arg(n)
          ->ArgName("N")
          ->Iterations(1)
          ->Unit(benchmark::kSecond);
    }
  }
  for (const auto& [model_name, id] : models) {
    auto* b = RegisterBenchmark(("BM_DecodeStep_Batched/" + std::string(model_name)).c_str(),
                                BM_DecodeStep_Batched, id);
    for (int n : {1, 2, 4, 8, 16, 32, 64, 128}) b->Arg(n);
    b->ArgName("N")->Unit(benchmark::kMicrosecond)->MinTime(0.2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  // Our one flag, taken out before Google Benchmark checks that it knows every remaining argument.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--timeline_dir=", 0) == 0)
      g_timeline_dir = arg.substr(15);
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
