// main.cpp — `serve`: stories260K behind an OpenAI-compatible HTTP API, on lesson 07's engine (the
// reference; `serve_yours` is the same program linked with the student's lesson-07 code). Flags,
// start-up, and the shutdown on SIGTERM/SIGINT: take no new work, let the running requests finish
// within --drain-seconds, abort what is left, exit 0. Not here: TLS, authentication, several models.
#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <httplib.h>

#include "api.h"
#include "causal_lm.h"
#include "cli_args.h"
#include "engine_loop.h"
#include "kv_cache.h"
#include "llm/checkpoint.h"
#include "llm/errors.h"
#include "llm/model_files.h"
#include "metrics.h"
#include "tokenizer.h"

#ifndef LLM_SERVE_ENGINE
#error "LLM_SERVE_ENGINE must name the lesson-07 build this program links: reference or yours"
#endif

namespace {

using llm::serve::Clock;

// Bad command line: printed as one line, exit status 2 (as generate's).
struct UsageError : llm::InvalidArgument {
  using llm::InvalidArgument::InvalidArgument;
};

constexpr std::string_view kEngine = LLM_SERVE_ENGINE;
constexpr bool kYours = kEngine == "yours";

constexpr const char* kUsage = R"(usage: serve [options]

Serve stories260K over an OpenAI-compatible HTTP API, on lesson 07's continuous-batching engine:
POST /v1/completions (JSON or server-sent events), GET /v1/models, GET /health, GET /metrics.

  --host ADDR              address to listen on (default 127.0.0.1: this machine only)
  --port N                 TCP port, 0..65535 (default 8080); 0 picks a free one
  --model-dir DIR          folder holding stories260K.bin and tok512.bin
  --max-running N          requests in one batch at most, 1..4096 (default 16)
  --blocks N               KV-cache blocks in the pool (default 1024)
  --block-size N           positions per block (default 16)
  --max-body-bytes N       larger request bodies get 413 (default 1048576)
  --max-queue N            requests waiting for admission at most; beyond, 503 + Retry-After (default 256)
  --threads-http N         HTTP worker threads, 1..1024 (default 128); each open stream holds one
  --drain-seconds S        on SIGTERM/SIGINT, how long running requests may take to finish before
                           they are aborted, 0..3600 (default 10); a second signal aborts at once
  --step-delay-ms N        pause N ms after every engine step, 0..1000 (default 0): stories260K made as
                           slow as a large model, for trying streaming, cancellation and shutdown
  --yours                  serve your lesson-07 engine (run as `./llm serve --yours`)
  -h, --help               this text

The first line on stdout is "serve: listening on http://HOST:PORT".
The model is searched in: --model-dir, $LLM_MODEL_DIR, models/stories260K in the repository,
../shared/models/stories260K. API, flags and the request's path: docs/serving.md.
Exit status: 0 after a shutdown by signal, 1 runtime error (missing model, cannot listen), 2 bad command line.
)";

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::optional<std::filesystem::path> model_dir;
  llm::Index max_running = 16;
  llm::Index blocks = 1024;
  llm::Index block_size = 16;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_queue = 256;
  int threads_http = 128;
  int drain_seconds = 10;
  int step_delay_ms = 0;
};

template <typename T>
T parse_in(std::string_view flag, std::string_view text, T lo, T hi) {
  const T v = llm::parse_number<T, UsageError>(flag, text);
  if (v < lo || v > hi) llm::fail<UsageError>(flag, " = ", v, " must be in [", lo, ", ", hi, "]");
  return v;
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
      std::cout << kUsage;
      std::exit(0);
    } else if (flag == "--host") {
      o.host = value();
      if (o.host.empty()) llm::fail<UsageError>("--host must not be empty");
    } else if (flag == "--port") {
      o.port = parse_in<int>(flag, value(), 0, 65535);
    } else if (flag == "--model-dir") {
      o.model_dir = std::filesystem::path(value());
    } else if (flag == "--max-running") {
      o.max_running = parse_in<llm::Index>(flag, value(), 1, llm::kMaxRunning);
    } else if (flag == "--blocks") {
      o.blocks = llm::parse_number<llm::Index, UsageError>(flag, value());  // the pool checks it
    } else if (flag == "--block-size") {
      o.block_size = llm::parse_number<llm::Index, UsageError>(flag, value());
    } else if (flag == "--max-body-bytes") {
      o.max_body_bytes = parse_in<std::size_t>(flag, value(), 1, std::size_t{1} << 30);
    } else if (flag == "--max-queue") {
      o.max_queue = parse_in<std::size_t>(flag, value(), 1, std::size_t{1} << 20);
    } else if (flag == "--threads-http") {
      o.threads_http = parse_in<int>(flag, value(), 1, 1024);
    } else if (flag == "--drain-seconds") {
      o.drain_seconds = parse_in<int>(flag, value(), 0, 3600);
    } else if (flag == "--step-delay-ms") {
      o.step_delay_ms = parse_in<int>(flag, value(), 0, 1000);
    } else if (flag == "--yours") {
      if (!kYours)
        llm::fail<UsageError>(
            "--yours: this program serves the reference engine; `./llm serve --yours` builds and "
            "runs serve_yours, the same server linked with your lessons/lesson07 code");
    } else {
      llm::fail<UsageError>("unknown flag '", flag, "' (see --help)");
    }
  }
  return o;
}

// SIGTERM and SIGINT are blocked in every thread (the mask is inherited) and taken with sigtimedwait by
// the main thread alone: no work happens in a signal handler.
sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

int wait_signal(const sigset_t& set, std::chrono::milliseconds timeout) {
  const auto ms = timeout.count();
  timespec ts{.tv_sec = static_cast<std::time_t>(ms / 1000),
              .tv_nsec = static_cast<long>(ms % 1000) * 1000000L};
  const int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    const sigset_t signals = shutdown_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread exists

    const llm::ModelFiles files = llm::require_model(o.model_dir);
    const llm::Checkpoint ckpt = llm::load_checkpoint(files.checkpoint);
    const llm::Tokenizer tok = llm::Tokenizer::load(files.tokenizer, ckpt.config.vocab_size);
    const llm::CausalLM model = llm::CausalLM::from_checkpoint(ckpt);
    const llm::ModelConfig& cfg = model.config();

    llm::serve::Metrics metrics;
    const llm::EngineConfig engine{.num_blocks = o.blocks,
                                   .block_size = o.block_size,
                                   .max_running = o.max_running,
                                   .max_tokens_per_step = std::max<llm::Index>(256, o.max_running)};
    const llm::serve::LoopConfig loop_config{
        .engine = engine, .max_queue = o.max_queue, .step_delay_ms = o.step_delay_ms};
    std::optional<llm::serve::EngineLoop> loop;
    try {
      loop.emplace(model, tok, loop_config, metrics);
    } catch (const llm::InvalidArgument& e) {  // the pool's and the scheduler's limits
      llm::fail<UsageError>("--blocks ", o.blocks, " --block-size ", o.block_size, " --max-running ",
                            o.max_running, ": ", e.what());
    }

    llm::serve::Api api({.model = {.id = files.checkpoint.stem().string(),
                                   .context = cfg.max_position_embeddings,
                                   .block_size = o.block_size,
                                   .num_blocks = o.blocks,
                                   .max_piece_bytes = tok.max_piece_length()},
                         .max_body_bytes = o.max_body_bytes,
                         .engine = std::string(kEngine)},
                        tok, *loop, metrics);
    httplib::Server server;
    const int threads = o.threads_http;
    server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
    server.set_keep_alive_timeout(2);  // an idle connection holds a worker; at shutdown, at most this long
    // httplib's default socket options set SO_REUSEPORT, which lets a second server bind a port already in
    // use (the kernel then splits the connections between the two): SO_REUSEADDR only, so that is an error.
    int listen_fd = -1;
    server.set_socket_options([&listen_fd](int sock) {
      const int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      listen_fd = sock;
    });
    api.install(server);

    int port = o.port;
    if (port == 0) {
      port = server.bind_to_any_port(o.host);
    } else if (!server.bind_to_port(o.host, port)) {
      port = -1;
    }
    if (port < 0)
      llm::fail<llm::IoError>(
          "cannot listen on ", o.host, ":", o.port,
          " (port taken, an address not of this machine, or a port below 1024 without root)");
    // httplib 0.11.4 listens with a backlog of 5, compiled into the library: 64 clients connecting at
    // once would have their SYNs dropped and retried a second later. listen() again raises the backlog.
    ::listen(listen_fd, SOMAXCONN);

    std::cerr << "serve: model " << files.checkpoint.string() << " (" << cfg.summary() << ")\n"
              << "serve: engine " << kEngine << ", " << o.blocks << " blocks of " << o.block_size
              << " positions (" << llm::kv_cache_bytes(cfg, o.blocks * o.block_size)
              << " bytes of KV cache), up to " << o.max_running << " requests per batch, " << o.threads_http
              << " HTTP threads\n";
    const bool ipv6 = o.host.find(':') != std::string::npos;  // a URL writes it as [::1]
    std::cout << "serve: listening on http://" << (ipv6 ? "[" + o.host + "]" : o.host) << ":" << port
              << std::endl;

    std::atomic<bool> listening_ended = false;
    std::thread listener([&] {
      server.listen_after_bind();
      listening_ended = true;
    });

    // Serve until a signal (or until the listener fails, which should not happen).
    int sig = 0;
    while (!listening_ended && (sig = wait_signal(signals, std::chrono::milliseconds(200))) == 0) {
    }
    const bool by_signal = sig != 0;

    // Drain: new completions get 503 from now on; running ones may finish until the deadline.
    loop->begin_drain();
    const auto deadline = Clock::now() + std::chrono::seconds(o.drain_seconds);
    if (by_signal)
      std::cerr << "serve: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ": draining, at most "
                << o.drain_seconds << " s (a second signal aborts at once)\n";
    bool drained = false;
    while (by_signal) {
      const auto slice = std::min(deadline, Clock::now() + std::chrono::milliseconds(100));
      if (loop->wait_idle(slice) && api.wait_streams_closed(slice)) {
        drained = true;
        break;
      }
      if (Clock::now() >= deadline || wait_signal(signals, std::chrono::milliseconds(0)) != 0) break;
    }
    if (!drained) {
      loop->abort_all(llm::serve::ApiError(503, "the server is shutting down: the request was aborted", "",
                                           "shutting_down"));
      const auto grace = Clock::now() + std::chrono::seconds(2);
      loop->wait_idle(grace);
      api.wait_streams_closed(grace);
    }
    std::cerr << "serve: " << (drained ? "every request finished" : "requests still running were aborted")
              << "; stopping\n";
    server.stop();
    loop->stop();

    // The listener joins httplib's workers; one still in a keep-alive wait takes up to 2 s. Past a
    // bound the process ends without waiting for them: every answer has been written by then.
    for (int i = 0; i < 50 && !listening_ended; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!listening_ended) {
      std::cerr << "serve: HTTP threads still busy after 5 s; exiting anyway\n";
      std::cout.flush();
      std::_Exit(by_signal ? 0 : 1);
    }
    listener.join();
    std::cerr << "serve: stopped\n";
    return by_signal ? 0 : 1;
  } catch (const UsageError& e) {
    std::cerr << "serve: error: " << e.what() << "\n";
    return 2;
  } catch (const llm::Error& e) {
    std::cerr << "serve: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "serve: unexpected error: " << e.what() << "\n";
    return 1;
  }
}
