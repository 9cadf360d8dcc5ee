// When the CLI replaces OpenBLAS's kernel choice (include/ldmrecon/blas.hpp).
#include <catch2/catch.hpp>

#include "ldmrecon/blas.hpp"

using ldmrecon::better_openblas_core;

TEST_CASE("only OpenBLAS's generic fallback on an AVX2 CPU is replaced", "[blas]") {
    CHECK(better_openblas_core("Prescott", true, true) == "SkylakeX");
    CHECK(better_openblas_core("Prescott", true, false) == "Haswell");
    CHECK(better_openblas_core("Prescott", false, false) == "");  // no AVX2: generic is right
    CHECK(better_openblas_core("Haswell", true, true) == "");     // a real choice is kept
    CHECK(better_openblas_core("SkylakeX", true, true) == "");
    CHECK(better_openblas_core("Zen", true, false) == "");
    CHECK(better_openblas_core("", true, true) == "");            // not OpenBLAS
}

TEST_CASE("the BLAS description names OpenBLAS's kernels or says it is another BLAS", "[blas]") {
    const std::string core = ldmrecon::openblas_core();
    const std::string d = ldmrecon::blas_description();
    if (core.empty())
        CHECK(d == "not OpenBLAS");
    else
        CHECK(d == "OpenBLAS " + core);
}
