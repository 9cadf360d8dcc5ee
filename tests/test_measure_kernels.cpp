// The measures' fast inner loops against the plain arithmetic they replace: the vectorisable log
// against libm, the spectral sums against a scalar loop, the polyphase resampler's ends against its
// middle, the paired transform against two real ones, STOI's segment kernels against pystoi's formulas.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <tuple>

#include "../src/fast_log.hpp"
#include "../src/measure_kernels.hpp"
#include "ldmrecon/feature.hpp"
#include "ldmrecon/metrics.hpp"
#include "ldmrecon/stoi.hpp"

using namespace ldmrecon;
using Approx = Catch::Detail::Approx;

TEST_CASE("ln_positive agrees with libm over the whole normal range", "[kernels]") {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> exponent(-700.0, 700.0), near_one(0.5, 1.5);
    double worst = 0;
    for (int i = 0; i < 200000; ++i) {
        const double x = i % 2 ? std::exp(exponent(rng)) : near_one(rng);
        worst = std::max(worst, std::abs(ln_positive(x) - std::log(x)) / std::max(1.0, std::abs(std::log(x))));
    }
    CHECK(worst < 1e-15);
    CHECK(ln_positive(1.0) == 0.0);
    CHECK(ln_positive(2.0) == std::log(2.0));
    CHECK(ln_positive(std::numeric_limits<double>::min()) == Approx(std::log(std::numeric_limits<double>::min())).epsilon(1e-15));
    CHECK(ln_positive(std::numeric_limits<double>::max()) == Approx(std::log(std::numeric_limits<double>::max())).epsilon(1e-15));
    CHECK(ln_positive(0.3 / 0.3) == 0.0);  // the measures take ln(p / q): identical spectra give exactly zero
    CHECK(ln_positive(1e-7 / 3.0) == Approx(std::log(1e-7 / 3.0)).epsilon(1e-15));
}

TEST_CASE("the single-precision ln_positive agrees with libm over the whole normal range", "[kernels]") {
    std::mt19937_64 rng(8);
    std::uniform_real_distribution<double> exponent(-87.0, 88.0), near_one(0.5, 1.5);
    double worst = 0;
    for (int i = 0; i < 200000; ++i) {
        const float x = static_cast<float>(i % 2 ? std::exp(exponent(rng)) : near_one(rng));
        worst = std::max(worst, std::abs(ln_positive(x) - std::log(static_cast<double>(x))) /
                                    std::max(1.0, std::abs(std::log(static_cast<double>(x)))));
    }
    CHECK(worst < 2e-7);
    CHECK(ln_positive(1.0f) == 0.0f);
    CHECK(ln_positive(0.3f / 0.3f) == 0.0f);
    CHECK(ln_positive(std::numeric_limits<float>::min()) ==
          Approx(std::log(std::numeric_limits<float>::min())).epsilon(2e-7));
    CHECK(ln_positive(std::numeric_limits<float>::max()) ==
          Approx(std::log(std::numeric_limits<float>::max())).epsilon(2e-7));
}

TEST_CASE("spectral sums equal the scalar formulas", "[kernels]") {
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> u(0.0, 4.0);
    for (std::size_t n : {1, 7, 257, 1025}) {
        std::vector<double> p(n), q(n);
        std::vector<float> x(n), y(n);
        for (std::size_t k = 0; k < n; ++k) {
            p[k] = k % 5 ? std::pow(u(rng), 6) : 0.0;  // zeros: below the floor
            q[k] = std::pow(u(rng), 6);
            x[k] = static_cast<float>(std::sqrt(p[k]));
            y[k] = static_cast<float>(std::sqrt(q[k]));
        }
        const double floor = 1e-7;
        double d2 = 0, r2 = 0, al = 0, db2 = 0, xd2 = 0, xr2 = 0;
        for (std::size_t k = 0; k < n; ++k) {
            const double a = std::sqrt(std::max(p[k], floor)), b = std::sqrt(std::max(q[k], floor));
            d2 += (a - b) * (a - b);
            r2 += a * a;
            al += std::abs(std::log(a) - std::log(b));
            const double xa = x[k], yb = y[k];
            const double db = 10 * std::log10(std::max(xa * xa, floor)) - 10 * std::log10(std::max(yb * yb, floor));
            db2 += db * db;
            xd2 += (xa - yb) * (xa - yb);
            xr2 += xa * xa;
        }
        // The bins in float: the powers as floats (the formulas above see the same rounded values).
        const std::vector<float> pf(p.begin(), p.end()), qf(q.begin(), q.end());
        double fd2 = 0, fr2 = 0, fal = 0;
        for (std::size_t k = 0; k < n; ++k) {
            const double a = std::sqrt(std::max<double>(pf[k], static_cast<float>(floor)));
            const double b = std::sqrt(std::max<double>(qf[k], static_cast<float>(floor)));
            fd2 += (a - b) * (a - b);
            fr2 += a * a;
            fal += std::abs(std::log(a) - std::log(b));
        }
        const auto m = kernels::magnitude_sums(pf.data(), qf.data(), n, static_cast<float>(floor));
        CHECK(m.diff_sq == Approx(fd2).epsilon(1e-6));
        CHECK(m.ref_sq == Approx(fr2).epsilon(1e-7));
        CHECK(m.abs_log_ratio == Approx(fal).epsilon(1e-6));
        CHECK(fd2 == Approx(d2).epsilon(1e-6));  // and rounding the powers to float moves them no further
        CHECK(fal == Approx(al).epsilon(1e-6));
        const auto l = kernels::log_spectral_sums(x.data(), y.data(), n, floor);
        CHECK(l.db_diff_sq == Approx(db2).epsilon(1e-12));
        CHECK(l.diff_sq == Approx(xd2).epsilon(1e-12));
        CHECK(l.ref_sq == Approx(xr2).epsilon(1e-12));
    }
}

TEST_CASE("the polyphase resampler: ends computed directly agree with the middle", "[kernels]") {
    // The same signal with 800 zeros in front (500 outputs at 10 kHz, well past the filter's half
    // length of 58 outputs): its first outputs come from the direct sum at the signal's start, the
    // shifted ones from the dot products in the middle.
    std::mt19937 rng(11);
    std::normal_distribution<float> g(0.f, 0.3f);
    std::vector<float> x(4000), padded(4800, 0.f);
    for (std::size_t i = 0; i < x.size(); ++i) padded[800 + i] = x[i] = g(rng);
    const auto a = resample_octave(x.data(), x.size(), 10000, 16000);
    const auto b = resample_octave(padded.data(), padded.size(), 10000, 16000);
    REQUIRE(a.size() == 2500);
    REQUIRE(b.size() == 3000);
    for (std::size_t m = 0; m < a.size(); ++m) CHECK(a[m] == Approx(b[500 + m]).margin(1e-6));
    // A tone in the pass band keeps its level (60 dB design: ripple well under 1 %).
    std::vector<float> tone(16000);
    for (std::size_t i = 0; i < tone.size(); ++i) tone[i] = static_cast<float>(std::sin(2 * M_PI * 1000.0 * i / 16000));
    const auto t = resample_octave(tone.data(), tone.size(), 10000, 16000);
    double s = 0;
    for (std::size_t m = 1000; m < 9000; ++m) s += double(t[m]) * t[m];
    CHECK(std::sqrt(s / 8000) == Approx(std::sqrt(0.5)).epsilon(0.01));
}

TEST_CASE("the biquad cascades in lanes equal the scalar recursion to the bit", "[kernels]") {
    // 21 bands: two full groups of eight and a part one; coefficients of stable resonators.
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    const std::size_t B = 21, n = 1280;
    std::vector<double> b0(4 * B), b1(4 * B), b2(4 * B), a1(B), a2(B), x(n), e(B);
    for (std::size_t i = 0; i < 4 * B; ++i) b0[i] = 1e-3 * u(rng), b1[i] = 1e-3 * u(rng), b2[i] = i % 3 ? 0.0 : 1e-4 * u(rng);
    for (std::size_t b = 0; b < B; ++b) a2[b] = 0.9 + 0.05 * u(rng), a1[b] = -2 * std::sqrt(a2[b]) * std::cos(0.1 + 0.1 * b);
    for (double& v : x) v = u(rng);
    kernels::cascade_energy(x.data(), n, {b0.data(), b1.data(), b2.data(), a1.data(), a2.data(), B}, e.data());
    for (std::size_t b = 0; b < B; ++b) {
        double z[4][2] = {}, energy = 0;
        for (std::size_t k = 0; k < n; ++k) {
            double v = x[k];
            for (std::size_t s = 0; s < 4; ++s) {
                const std::size_t i = s * B + b;
                const double y = b0[i] * v + z[s][0];
                z[s][0] = b1[i] * v - a1[b] * y + z[s][1];
                z[s][1] = b2[i] * v - a2[b] * y;
                v = y;
            }
            energy += v * v;
        }
        CHECK(e[b] == energy);
        CHECK(energy > 0);
    }
}

TEST_CASE("NSIM cells in lanes equal the scalar formula to the bit, a negative variance product too", "[kernels]") {
    constexpr double g[3][3] = {{0.0113, 0.0838, 0.0113}, {0.0838, 0.6195, 0.0838}, {0.0113, 0.0838, 0.0113}};
    const double c1 = 1e-4, c3 = 4.5e-4;
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> u(0.0, 40.0);
    const std::size_t n = 29;
    std::vector<double> rows[6], mr(n), vr(n), md(n), sqd(n), out(n);
    for (auto& r : rows) {
        r.resize(n + 2);
        for (double& v : r) v = u(rng);
    }
    for (std::size_t c = 0; c < n; ++c) mr[c] = u(rng), md[c] = u(rng), vr[c] = u(rng) - 10, sqd[c] = md[c] * md[c] + u(rng) - 5;
    vr[3] = -0.0;  // the -0 and negative products take Google's c3 branch
    const kernels::NsimRow row{{rows[0].data(), rows[1].data(), rows[2].data()},
                               {rows[3].data(), rows[4].data(), rows[5].data()}, mr.data(), vr.data(), md.data(), sqd.data()};
    kernels::nsim_cells(row, g, c1, c3, n, out.data());
    int negative = 0;
    for (std::size_t c = 0; c < n; ++c) {
        double cross = 0;
        for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j) cross += g[i][j] * (rows[i][c + j] * rows[3 + i][c + j]);
        const double intensity = (2.0 * mr[c] * md[c] + c1) / (mr[c] * mr[c] + md[c] * md[c] + c1);
        const double product = vr[c] * (sqd[c] - md[c] * md[c]);
        negative += product < 0;
        const double denom = product < 0 ? c3 : std::sqrt(product) + c3;
        CHECK(out[c] == intensity * ((cross - mr[c] * md[c] + c3) / denom));
    }
    CHECK(negative > 3);
}

TEST_CASE("two signals' frame powers from one single-precision complex transform equal two double real ones",
          "[kernels]") {
    std::mt19937 rng(5);
    std::normal_distribution<float> g(0.f, 0.3f);
    std::vector<float> x(5000), y(5000);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = g(rng), y[i] = i % 3 ? 1e-3f * g(rng) : 0.f;  // y far quieter
    for (const auto& [n_fft, hop, win] :
         {std::tuple{1024, 120, 600}, {2048, 240, 1200}, {512, 50, 240}, {64, 16, 64}}) {
        const Stft stft(n_fft, hop, win);
        Stft::Scratch one(stft);
        Stft::PairScratch two(stft);
        const std::size_t bins = static_cast<std::size_t>(stft.n_bins());
        std::vector<double> px(bins), py(bins);
        std::vector<float> qx(bins), qy(bins);
        for (std::size_t t : {std::size_t{0}, std::size_t{1}, std::size_t{7}, stft.frames(x.size()) - 1}) {
            stft.frame_power(x.data(), x.size(), t, one, px.data());
            stft.frame_power(y.data(), y.size(), t, one, py.data());
            stft.frame_power_pair(x.data(), y.data(), x.size(), t, two, qx.data(), qy.data());
            // Float rounding is relative to the pair's loudest bin (x's), which a quiet y's bins inherit.
            const double scale = *std::max_element(px.begin(), px.end());
            double worst = 0;
            for (std::size_t k = 0; k < bins; ++k)
                worst = std::max({worst, std::abs(static_cast<double>(qx[k]) - px[k]),
                                  std::abs(static_cast<double>(qy[k]) - py[k])});
            CHECK(worst <= 1e-6 * scale);  // measured 0.4-2.4e-7
            CHECK(worst > 0);              // a float transform: were it exact, the double path would be the one running
        }
    }
    // A scratch holds its own Stft's window zeros: another Stft of the same size refuses it.
    const Stft a(1024, 120, 600), b(1024, 120, 1024);
    Stft::Scratch sa(a);
    Stft::PairScratch pa(a);
    std::vector<double> p(513);
    std::vector<float> pf(513), qf(513);
    CHECK_THROWS_WITH(b.frame_power(x.data(), x.size(), 0, sa, p.data()), Catch::Contains("the Stft it was made for"));
    CHECK_THROWS_WITH(b.frame_power_pair(x.data(), y.data(), x.size(), 0, pa, pf.data(), qf.data()),
                      Catch::Contains("the Stft it was made for"));
    // A signal against itself is exactly 0, and a real difference is not.
    CHECK(multi_resolution_stft(x.data(), x.data(), x.size()).value == 0.0);
    CHECK(multi_resolution_stft(x.data(), y.data(), x.size()).value > 1.0);
}

TEST_CASE("STOI's segment kernels equal pystoi's formulas written out", "[kernels]") {
    std::mt19937 rng(9);
    std::uniform_real_distribution<double> u(0.0, 2.0);
    constexpr std::size_t bands = 15, N = 30;
    const double eps = std::numeric_limits<double>::epsilon(), clip = 1 + std::pow(10.0, 15.0 / 20);
    std::vector<double> X(bands * N), Y(bands * N);
    for (std::size_t i = 0; i < X.size(); ++i) X[i] = u(rng), Y[i] = i % 4 ? u(rng) : 30 * u(rng);  // some clipped
    for (std::size_t b = 0; b < bands; ++b) {
        const double *x = &X[b * N], *y = &Y[b * N];
        double ex = 0, ey = 0, mx = 0, my = 0;
        for (std::size_t t = 0; t < N; ++t) ex += x[t] * x[t], ey += y[t] * y[t];
        const double alpha = std::sqrt(ex) / (std::sqrt(ey) + eps);
        std::vector<double> yp(N);
        for (std::size_t t = 0; t < N; ++t)
            yp[t] = std::min(y[t] * alpha, x[t] * clip), my += yp[t] / N, mx += x[t] / N;
        double nx = 0, ny = 0, c = 0;
        for (std::size_t t = 0; t < N; ++t) nx += (x[t] - mx) * (x[t] - mx), ny += (yp[t] - my) * (yp[t] - my);
        for (std::size_t t = 0; t < N; ++t)
            c += (yp[t] - my) / (std::sqrt(ny) + eps) * (x[t] - mx) / (std::sqrt(nx) + eps);
        CHECK(kernels::stoi_band_correlation(x, y, N, clip, eps) == Approx(c).epsilon(1e-12));
    }
    std::vector<double> m = X, ref = X;
    kernels::estoi_normalise(m.data(), bands, N);
    auto normalise = [&](std::size_t count, std::size_t len, auto at) {  // pystoi's row_col_normalize, one axis
        for (std::size_t i = 0; i < count; ++i) {
            double mean = 0, ss = 0;
            for (std::size_t j = 0; j < len; ++j) mean += at(i, j) / len;
            for (std::size_t j = 0; j < len; ++j) at(i, j) -= mean, ss += at(i, j) * at(i, j);
            for (std::size_t j = 0; j < len; ++j) at(i, j) /= std::sqrt(ss);
        }
    };
    normalise(bands, N, [&](std::size_t b, std::size_t t) -> double& { return ref[b * N + t]; });
    normalise(N, bands, [&](std::size_t t, std::size_t b) -> double& { return ref[b * N + t]; });
    for (std::size_t i = 0; i < m.size(); ++i) CHECK(m[i] == Approx(ref[i]).margin(1e-12));
    for (std::size_t t = 0; t < N; ++t) {  // each column has zero mean and unit norm after both steps
        double mean = 0, ss = 0;
        for (std::size_t b = 0; b < bands; ++b) mean += m[b * N + t], ss += m[b * N + t] * m[b * N + t];
        CHECK(mean == Approx(0.0).margin(1e-12));
        CHECK(ss == Approx(1.0).epsilon(1e-12));
    }
    std::vector<double> flat(bands * N, 2.5);  // constant rows: zero norms give zeros, not NaN
    kernels::estoi_normalise(flat.data(), bands, N);
    for (double v : flat) CHECK(v == 0.0);
}
