// placeholder — replaced by the lesson's suite.
#include <doctest/doctest.h>

#include "llm/errors.h"
#include "rope.h"
TEST_CASE("placeholder lesson01 advanced") { CHECK(llm::adjacent_to_half_split(std::vector<float>{1, 2}).size() == 2u); }
