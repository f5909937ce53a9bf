// placeholder — replaced by the lesson's suite.
#include <doctest/doctest.h>

#include "llm/errors.h"
#include "embedding.h"
TEST_CASE("placeholder lesson01 basic") { CHECK(llm::sinusoidal_positional_encoding(2, 2).size(0) == 2); }
