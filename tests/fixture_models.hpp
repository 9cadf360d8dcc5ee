// The tiny random-weight export that ctest makes before the [models] and [pipeline] units run, named by
// LDMRECON_TEST_MODELS. Without it a test fails and says so, rather than passing without having run.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

inline std::string fixture_models() {
    const char* dir = std::getenv("LDMRECON_TEST_MODELS");
    if (!dir || !*dir)
        FAIL("LDMRECON_TEST_MODELS is not set: run these through ctest (e.g. ctest -R unit.pipeline), which makes "
             "the fixtures first");
    return dir;
}
