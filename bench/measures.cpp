// What each measure group costs: one core, best of N, on a pair of files. Figures only (never a test).
//   build/ldmrecon_bench_measures REF EST [N=3] [LIST...]
// Each LIST is a --metrics list timed on its own (default: each group, `all`, then ViSQOL's two).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ldmrecon/audio.hpp"
#include "ldmrecon/metrics.hpp"

using namespace ldmrecon;

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s REF EST [N=3] [LIST...]\n", argv[0]);
        return 2;
    }
    const int repeat = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
    try {
        const MonoAudio ref = read_mono(argv[1], 16000), est = read_mono(argv[2], 16000);
        const double seconds = static_cast<double>(std::min(ref.samples.size(), est.samples.size())) / 16000;
        const LogMel feature{FeatureConfig{}};
        std::printf("%.1f s of audio at 16 kHz, best of %d, one thread\n%-28s %10s %14s\n", seconds, repeat, "measures",
                    "ms", "ms per s audio");
        std::vector<std::string> lists(argv + std::min(argc, 4), argv + argc);
        if (lists.empty())
            lists = {"sample", "aligned", "spectral,mel", "mrstft", "stoi", "pitch", "all", "visqol", "visqol_audio"};
        for (const std::string& list : lists) {
            MetricsOptions mo;
            mo.measures = parse_measure_selection(list);
            double best = 1e300;
            for (int r = 0; r < repeat; ++r) {
                const auto t0 = std::chrono::steady_clock::now();
                compare_signals(ref.samples, est.samples, feature, mo);
                best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            }
            std::printf("%-28s %10.1f %14.2f\n", list.c_str(), 1e3 * best, 1e3 * best / seconds);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
