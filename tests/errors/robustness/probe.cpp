// probe.cpp — four test cases that behave like a student's code at its worst: one passes, one throws
// (an unfinished stub), one segfaults, one never returns. Registered by llm_add_doctest like every
// suite but hidden from ctest unless $LLM_ROBUSTNESS_PROBE is set (see CMakeLists.txt): they fail by
// design. tests/errors/check_isolation.cmake runs them and checks that only the bad ones fail.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "llm/errors.h"

TEST_CASE("probe passes") { CHECK(6 * 7 == 42); }

TEST_CASE("probe throws like an unfinished stub") {
  throw llm::NotImplemented("lesson04 step 3: build the causal mask");
}

TEST_CASE("probe segfaults") {
  std::raise(SIGSEGV);
  FAIL("raise(SIGSEGV) returned");
}

TEST_CASE("probe never returns") {
  // Bounded so that running the program by hand does not hang forever; ctest stops it after 3 s.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  FAIL("still running after 5 minutes: the ctest TIMEOUT did not stop this case");
}
