// expect_message.h — one row of docs/errors.md as a check: the call throws E, and E's message holds
// every given part (the value and the limit). LLM_SHOW_ERRORS=1 prints each message (to review the
// table's wording). Shared by the bad-input tests of the paged cache and the engine.
#pragma once

#include <cstdlib>
#include <initializer_list>
#include <iostream>
#include <string>

#include <doctest/doctest.h>

#include "test_support.h"

namespace llm::testing {

template <typename E, typename F>
void expect_message(F&& f, std::initializer_list<std::string> parts) {
  const std::string msg = error_message<E>(f);
  if (std::getenv("LLM_SHOW_ERRORS")) std::cout << "  " << msg << "\n";
  for (const std::string& part : parts)
    CHECK_MESSAGE(contains(msg, part), "the message must contain '" << part << "': " << msg);
}

}  // namespace llm::testing
