// A natural logarithm the compiler can vectorise, for the measures' inner loops (tens of millions of
// logs per minute of audio, where libm's scalar call was a fifth of the time).
#pragma once

#include <cstdint>
#include <cstring>

namespace ldmrecon {

// Integer steps and a polynomial only, no table, no branch: each lane of a vector does the same work.
namespace detail {

// x = 2^k m with m in [sqrt(1/2), sqrt(2)): returns m, and k as a double in `k`, without an integer
// conversion instruction (2^52 + biased k read as a double, minus 2^52 and the bias).
inline double split_exponent(double x, double& k) {
    constexpr std::uint64_t kSqrtHalfBits = 0x3FE6A09E667F3BCDull;  // bits of sqrt(1/2)
    constexpr std::uint64_t kOneBits = 0x3FF0000000000000ull;
    std::uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    const std::uint64_t kb = (bits + (kOneBits - kSqrtHalfBits)) >> 52;
    const std::uint64_t mbits = bits - (kb << 52) + (1023ull << 52);
    const std::uint64_t kbits = 0x4330000000000000ull | kb;
    double m;
    std::memcpy(&m, &mbits, sizeof m);
    std::memcpy(&k, &kbits, sizeof k);
    k -= 4503599627370496.0 + 1023.0;
    return m;
}

// 2 atanh(s) for |s| < 0.172: 2 s (1 + z/3 + z^2/5 + ... + z^10/21), z = s^2, by Horner; the terms
// left out are under 1e-18 of the sum.
inline double two_atanh(double s) {
    const double z = s * s;
    double p = 1.0 / 21;
    p = p * z + 1.0 / 19;
    p = p * z + 1.0 / 17;
    p = p * z + 1.0 / 15;
    p = p * z + 1.0 / 13;
    p = p * z + 1.0 / 11;
    p = p * z + 1.0 / 9;
    p = p * z + 1.0 / 7;
    p = p * z + 1.0 / 5;
    p = p * z + 1.0 / 3;
    p = p * z + 1.0;
    return 2.0 * s * p;
}

constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;

// The float forms: x = 2^k m as above (k as a float, an exact small integer), and 2 atanh(s) to z^4/9,
// the next term under 2e-9 of the sum for |s| < 0.172.
inline float split_exponent(float x, float& k) {
    constexpr std::uint32_t kSqrtHalfBits = 0x3F3504F3u;  // bits of sqrt(1/2), rounded down
    constexpr std::uint32_t kOneBits = 0x3F800000u;
    std::uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    const std::uint32_t kb = (bits + (kOneBits - kSqrtHalfBits)) >> 23;
    const std::uint32_t mbits = bits - (kb << 23) + (127u << 23);
    float m;
    std::memcpy(&m, &mbits, sizeof m);
    k = static_cast<float>(static_cast<std::int32_t>(kb) - 127);
    return m;
}

inline float two_atanh(float s) {
    const float z = s * s;
    float p = 1.0f / 9;
    p = p * z + 1.0f / 7;
    p = p * z + 1.0f / 5;
    p = p * z + 1.0f / 3;
    p = p * z + 1.0f;
    return 2.0f * s * p;
}

constexpr float kLn2HiF = 0.693145751953125f, kLn2LoF = 1.428606765330187e-06f;

}  // namespace detail

// ln(x) for a positive, finite, normal double, within 3 ulp of libm's (20 million random arguments);
// anything else (zero, subnormals, inf, NaN) gives an unspecified result, so callers floor first.
// ln m = 2 atanh((m - 1) / (m + 1)); k ln 2 in two parts so that k * kLn2Hi is exact.
inline double ln_positive(double x) {
    double k;
    const double m = detail::split_exponent(x, k);
    return k * detail::kLn2Hi + (detail::two_atanh((m - 1.0) / (m + 1.0)) + k * detail::kLn2Lo);
}

// The same in single precision, for sums whose inputs are floats already: within 2e-7 of libm's
// (relative, or absolute near 1) over the normal floats (tests/test_measure_kernels.cpp).
inline float ln_positive(float x) {
    float k;
    const float m = detail::split_exponent(x, k);
    return k * detail::kLn2HiF + (detail::two_atanh((m - 1.0f) / (m + 1.0f)) + k * detail::kLn2LoF);
}

}  // namespace ldmrecon
