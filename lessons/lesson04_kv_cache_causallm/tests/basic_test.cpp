#include <doctest/doctest.h>
#include "causal_lm.h"
TEST_CASE("placeholder basic") { CHECK(false); }
