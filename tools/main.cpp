// ldmrecon: the command line. Parses options (CLI11), calls a command, maps errors to exit codes.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <vector>

#include "cli_text.hpp"
#include "help_format.hpp"
#include "commands.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/limits.hpp"
#include "ldmrecon/streams.hpp"

using namespace ldmrecon;
using cli::closest;
using cli::shortened;
using cli::shortened_words;

namespace {

// Every long option of `app` and its subcommands ("--models"), for suggestions.
void long_options(const CLI::App& app, std::vector<std::string>& out) {
    for (const CLI::Option* o : app.get_options())
        for (const auto& n : o->get_lnames()) out.push_back("--" + n);
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) long_options(*sub, out);
}

// CLI11's "not expected: --model" with the option meant: "(did you mean --models?)".
std::string with_option_suggestion(const std::string& message, const CLI::App& app) {
    const auto at = message.find("not expected: ");
    if (at == std::string::npos) return message;
    std::string word = message.substr(at + 14);
    word = word.substr(0, word.find_first_of(" ,"));
    if (const auto eq = word.find('='); eq != std::string::npos) word.resize(eq);
    if (word.rfind("--", 0) != 0) return message;
    std::vector<std::string> names;
    long_options(app, names);
    const std::string best = closest(word, names);
    return best.empty() ? message : message + " (did you mean " + best + "?)";
}

// A number option's bounds, said in the help and in the error; NaN and infinities are refused too
// (CLI::Range lets NaN through and prints DBL_MAX as 309 digits).
CLI::Validator within(double lo, double hi) {
    return CLI::Validator(
        [lo, hi](std::string& text) -> std::string {
            // strtod, not stod: an underflow such as 1e-400 is a number (0), not an error.
            char* end = nullptr;
            const double v = text.empty() || std::isspace(static_cast<unsigned char>(text[0])) ? 0.0
                                                                                                : std::strtod(text.c_str(), &end);
            if (end == nullptr || end == text.c_str() || *end != '\0') return "'" + shortened(text) + "' is not a number";
            if (!std::isfinite(v) || v < lo || v > hi)
                return shortened(text) + " is outside " + limits::short_number(lo) + " to " + limits::short_number(hi);
            return {};
        },
        limits::short_number(lo) + ".." + limits::short_number(hi));
}

// Before anything runs: a signal removes the temporary file being written (if any) and exits 130. The
// reconstruct command installs a gentler handler for its batches (finish what is in flight). A write
// past a file-size limit fails with EFBIG, reported per file, instead of killing the process.
extern "C" void on_signal_default(int) {
    remove_pending_temp();
    ::_exit(static_cast<int>(ExitCode::interrupted));
}

void install_default_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal_default;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    struct sigaction hup {};
    sigaction(SIGHUP, nullptr, &hup);
    if (hup.sa_handler != SIG_IGN) sigaction(SIGHUP, &sa, nullptr);  // under nohup it stays ignored
    std::signal(SIGXFSZ, SIG_IGN);
    // A parent may start us with these blocked (some job runners do): Ctrl-C and kill must still work.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

// --crepe, --distillmos, --dnsmos: the learned measures' exports; `folder` says where each defaults to.
void add_measure_network_options(CLI::App& app, cli::MeasureNetworkFiles& files, const std::string& folder) {
    app.add_option("--crepe", files.crepe, "CREPE export for --metrics crepe (default: crepe_full.pt in " + folder +
                   "; scripts/export_measure_models.py makes it)");
    app.add_option("--distillmos", files.distillmos, "DistillMOS export for --metrics distillmos (default: "
                   "distillmos.pt in " + folder + ")");
    app.add_option("--dnsmos", files.dnsmos, "DNSMOS export for --metrics dnsmos (default: dnsmos.pt in " + folder + ")");
}

void add_runtime_options(CLI::App& app, RuntimeOptions& rt, bool with_backend = true) {
    auto* g = app.add_option_group("runtime", "Where and how the models run");
    g->add_option("--device", rt.device, "auto | cpu | cuda | cuda:N")->capture_default_str();
    g->add_option(
         "--dtype", rt.dtype,
         "fp32 | fp16 | bf16 | int8 (fp16 needs CUDA; int8 the CPU and a package from ldmrecon compile --dtype int8)")
        ->check(CLI::IsMember({"fp32", "fp16", "bf16", "int8"}))
        ->capture_default_str();
    if (with_backend)  // not for `compile`, which makes the packages
        g->add_option("--backend", rt.backend, "auto (compiled packages from ldmrecon compile when one matches, else "
                      "TorchScript) | torchscript | compiled")
            ->check(CLI::IsMember({"auto", "torchscript", "compiled"}))
            ->capture_default_str();
    g->add_option("--threads", rt.threads, "CPU threads for the models (0 = all cores)")
        ->check(within(0, limits::hardware_threads()))
        ->capture_default_str();
}

// Every command's arguments, and for each subcommand the function that runs it: filled by the add_*
// functions below, read by main() after parsing.
struct CommandLine {
    cli::ReconstructArgs rec;
    cli::MelArgs mel;
    cli::PitchArgs pit;
    cli::MetricsArgs met;
    cli::MergeArgs merge;
    cli::BenchArgs bench;
    cli::AblateArgs abl;
    cli::EncodeArgs enc;
    cli::DecodeArgs dec;
    cli::CompileArgs comp;
    cli::InfoArgs info;
    struct Command {
        CLI::App* app;
        std::function<int()> run;
    };
    std::vector<Command> commands;
    bool verbose = false, quiet = false;
    std::string max_memory;
    RawFormat raw;  // --raw-rate, --raw-channels, --raw-format
};

// The default command's options: inputs and outputs, models and runtime.
void add_reconstruct_options(CLI::App& app, cli::ReconstructArgs& rec) {
    app.add_option("inputs", rec.inputs, "Audio files (any format and rate libsndfile reads), folders (searched "
                   "recursively), or @list.txt files of paths");
    app.add_option("-o,--output", rec.output, "Output WAV at the model's rate (one input)");
    app.add_option("--out-dir", rec.out_dir, "Output folder for many inputs; names mirror the inputs'");
    app.add_option("--models", rec.models, "Folder with vae.pt and vocoder.pt");
    add_runtime_options(app, rec.runtime);
}

// How the latent is taken and which part of the path runs.
void add_stage_options(CLI::App& app, cli::ReconstructArgs& rec) {
    auto* lat = app.add_option_group("latent", "How the latent is taken");
    lat->add_flag("--sample", rec.pipeline.sample, "Sample the posterior instead of taking its mode (mean)");
    lat->add_option("--seed", rec.pipeline.seed, "Seed for --sample")
        ->check(within(0, 18446744073709551615.0))  // an unsigned 64-bit seed: -5 is not 2^64 - 5
        ->capture_default_str();
    auto* what = app.add_option_group("stages", "Which part of the path runs");
    what->add_option("--stage", rec.stage, "full | vae (stop at the decoded feature) | vocoder (the input's own feature "
                     "to the vocoder)")
        ->check(CLI::IsMember({"full", "vae", "vocoder"}))
        ->capture_default_str();
    what->add_option("--vocoder", rec.vocoder, "hifigan | griffin-lim (built in; no models with --stage vocoder)")
        ->check(CLI::IsMember({"hifigan", "griffin-lim"}))
        ->capture_default_str();
    what->add_option("--gl-iterations", rec.pipeline.gl_iterations, "Griffin-Lim iterations (fast variant, momentum 0.99)")
        ->check(within(0, limits::kMaxGriffinLimIterations))
        ->capture_default_str();
}

// Long inputs and batching, and many files on many machines (shards, baselines).
void add_window_and_batch_options(CLI::App& app, cli::ReconstructArgs& rec) {
    auto* win = app.add_option_group("windows", "Long inputs and batching");
    win->add_option("--window-frames", rec.pipeline.window_frames,
                    "Frames per model pass (1024 = 10.24 s, AudioLDM2's training length); longer inputs run in windows")
        ->check(within(1, limits::kMaxWindowFrames))
        ->capture_default_str();
    win->add_option("--overlap-frames", rec.pipeline.overlap_frames, "Frames shared by neighbouring windows")
        ->check(within(0, limits::kMaxWindowFrames / 2))
        ->capture_default_str();
    win->add_option("--window-plan", rec.window_plan, "end-aligned (the last window ends at the input's end) | "
                    "streamed (windows from the start, the last one padded: --stream's plan)")
        ->check(CLI::IsMember({"end-aligned", "streamed"}))
        ->capture_default_str();
    win->add_option("--level", rec.level, "peak (each input normalised by its own mean and peak, as AudioLDM2 trains) | "
                    "fixed (full scale to the models' 0.5, no offset taken off: --stream's level)")
        ->check(CLI::IsMember({"peak", "fixed"}))
        ->capture_default_str();
    rec.pipeline.batch_size = 0;
    win->add_option("--batch-size", rec.pipeline.batch_size, "Windows run together (0 = auto: 8 on CUDA, 1 on the CPU)")
        ->check(within(0, limits::kMaxBatchSize))
        ->capture_default_str();
    auto* live = app.add_option_group("stream", "Streams and real time");
    live->add_flag("--stream", rec.stream, "Read the input as it arrives (a file, - or a FIFO) and write the output as "
                   "each window is final (-o OUT.wav or -o -: a WAV on standard output); fixed level, streamed plan");
    live->add_flag("--raw-output", rec.raw_output, "--stream -o -: samples without a header (little-endian, 16 or 24-bit "
                   "integers or 32-bit floats as --format says), for players that take raw audio");
    live->add_option("--latency", rec.latency, "--stream: the longest a sample waits for its window, in seconds "
                     "(picks --window-frames; the compute per window comes on top)")
        ->check(CLI::Range(0.0, 3600.0));
    live->add_option("--report-every", rec.report_every, "--stream: one --report line (.jsonl) every SECONDS of output "
                     "with the measures that are sums over frames; the whole-signal ones come at the end")
        ->check(CLI::Range(0.0, 86400.0));
    auto* many = app.add_option_group("batch", "Many files, many machines, CI");
    many->add_option("--shard", rec.shard, "K/N: take the K-th of N slices of the sorted input list (K from 1)")
        ->check(CLI::Validator([](std::string& t) { return t.empty() ? std::string("expected K/N, e.g. 3/8 (an empty "
                                                                             "variable in a job script?)") : std::string(); },
                               "K/N"));
    many->add_flag("--skip-existing", rec.skip_existing, "Skip inputs whose output exists (resume a run)");
    many->add_option("--jobs", rec.jobs, "Worker threads reading ahead of the models and measuring and writing behind "
                     "them (default: every core but one on CUDA, 1 on the CPU; 0: all in one thread)")
        ->check(within(0, 1024));
    many->add_option("--baseline", rec.baseline, "Compare with a stored report (.json or .jsonl); exit 7 on a regression");
    many->add_option("--tolerance", rec.tolerances, "METRIC=V: allowed change before it counts as a regression")
        ->expected(1)
        ->take_all();
    many->add_option("--require", rec.requirements, "'METRIC>=V' or 'METRIC<=V' (quoted): a bound every file must meet")
        ->expected(1)
        ->take_all();
}

// What is written and printed.
void add_output_options(CLI::App& app, cli::ReconstructArgs& rec) {
    auto* out = app.add_option_group("output", "What is written and printed");
    out->add_option("--format", rec.format, "pcm16 | pcm24 | float")
        ->check(CLI::IsMember({"pcm16", "pcm24", "float"}))
        ->capture_default_str();
    out->add_option("--output-format", rec.output_format, "Container of --out-dir's outputs (-o takes its file's "
                    "extension): wav | flac | ogg | opus | aiff | caf | w64 | rf64 | au | mp3")
        ->check(CLI::IsMember({"wav", "flac", "ogg", "opus", "aiff", "caf", "w64", "rf64", "au", "mp3"}))
        ->capture_default_str();
    out->add_option("--report", rec.report, "Write the per-file report: .json, .jsonl (one line a file) or .csv");
    out->add_flag("--json", rec.json, "Print the report as JSON on stdout instead of the table");
    out->add_flag("--pesq", rec.pesq, "Add wide-band PESQ to every report (needs the pesq Python package: "
                  "$LDMRECON_PYTHON, python3 or /usr/bin/python3 that imports it)");
    out->add_option("--dump-dir", rec.dump_dir, "Write feature.npy, decoded.npy, vocoder_raw.npy, output.npy here");
    out->add_option("--plot", rec.plot, "Write a PNG: input feature, reconstructed feature, their difference (one input)");
    out->add_option("--metrics", rec.measures, "Measures to compute: groups and keys, e.g. sample,spectral,stoi; "
                    "all; none (`ldmrecon metrics --list` names them)")
        ->capture_default_str();
    add_measure_network_options(*out, rec.networks, "the models folder");
    out->add_option("--max-lag-ms", rec.max_lag_ms, "Delay search window for aligned metrics (+- ms)")
        ->check(within(0, limits::kMaxLagMs))
        ->capture_default_str();
}

// `mel`: the feature the VAE receives.
void add_mel(CLI::App& app, CommandLine& cl) {
    cli::MelArgs& mel = cl.mel;
    CLI::App* mel_cmd = app.add_subcommand("mel", "Write the log-mel feature the VAE receives as float32 .npy [T, n_mels]");
    mel_cmd->add_option("input", mel.input, "Audio file")->required();
    mel_cmd->add_option("-o,--output", mel.output, "Output .npy")->required();
    mel_cmd->add_option("--mel-scale", mel.mel_scale, "ln (the models' feature) | db (the original notes', comparison "
                        "only) | db-percentile | db-zscore | db-tanh (the notes' normalisations of db)")
        ->check(CLI::IsMember({"ln", "db", "db-percentile", "db-zscore", "db-tanh"}))
        ->capture_default_str();
    mel_cmd->add_option("--models", mel.models, "Take the feature settings from this export folder");
    cl.commands.push_back({mel_cmd, [&mel] { return cli::run_mel(mel); }});
}

// `pitch`: a file's pitch track.
void add_pitch(CLI::App& app, CommandLine& cl) {
    cli::PitchArgs& pit = cl.pit;
    CLI::App* pitch_cmd = app.add_subcommand("pitch", "The pitch track of a file (YIN, 10 ms frames): time, F0, periodicity, voiced");
    pitch_cmd->add_option("input", pit.input, "Audio file")->required();
    pitch_cmd->add_option("-o,--output", pit.output, "Write here instead of standard output");
    pitch_cmd->add_flag("--json", pit.json, "One JSON object (arrays per frame) instead of CSV");
    pitch_cmd->add_option("--crepe", pit.crepe, "CREPE's track instead (this TorchScript export, "
                          "scripts/export_measure_models.py; loads libtorch)");
    pitch_cmd->add_option("--sample-rate", pit.sample_rate, "Rate the file is resampled to first")
        ->check(within(limits::kMinMeasureSampleRate, limits::kMaxSampleRate))
        ->capture_default_str();
    cl.commands.push_back({pitch_cmd, [&pit] { return cli::run_pitch(pit); }});
}

// `metrics`: compare two audio files.
void add_metrics(CLI::App& app, CommandLine& cl) {
    cli::MetricsArgs& met = cl.met;
    CLI::App* met_cmd = app.add_subcommand("metrics", "Compare two audio files, two folders of them, or a list of pairs "
                                           "(no models needed)");
    auto* ref = met_cmd->add_option("reference", met.reference, "Reference audio (or a folder)");
    met_cmd->add_option("estimate", met.estimate, "Estimate, e.g. a reconstruction (or a folder mirroring the reference's)");
    met_cmd->add_option("--pairs", met.pairs, "A list of pairs, REF<TAB>EST a line")->excludes(ref);
    met_cmd->add_option("--report", met.report, "Per-pair report for many pairs: .jsonl, .csv or .json");
    met_cmd->add_option("--jobs", met.jobs, "Worker threads for many pairs (0 = every core)")
        ->check(within(0, 1024))
        ->capture_default_str();
    met_cmd->add_flag("--json", met.json, "One JSON object on stdout");
    met_cmd->add_flag("--pesq", met.pesq, "Add wide-band PESQ (needs the pesq Python package; LDMRECON_PYTHON)");
    met_cmd->add_option("--metrics", met.measures, "Measures to compute: groups and keys, e.g. sample,spectral,stoi; "
                        "all; none")
        ->capture_default_str();
    add_measure_network_options(*met_cmd, met.networks, "the default models folder");
    met_cmd->add_flag("--list", met.list, "Print every measure's key, group, unit and direction, and exit");
    met_cmd->add_option("--max-lag-ms", met.max_lag_ms, "Delay search window (+- ms)")
        ->check(within(0, limits::kMaxLagMs))
        ->capture_default_str();
    met_cmd->add_option("--sample-rate", met.sample_rate, "Rate both are resampled to before comparing")
        ->check(within(limits::kMinMeasureSampleRate, limits::kMaxSampleRate))
        ->capture_default_str();
    cl.commands.push_back({met_cmd, [&met] { return cli::run_metrics(met); }});
}

// `report merge`: combine the reports of shards.
void add_report(CLI::App& app, CommandLine& cl) {
    cli::MergeArgs& merge = cl.merge;
    CLI::App* report_cmd = app.add_subcommand("report", "Work with reports");
    report_cmd->require_subcommand(1);
    CLI::App* merge_cmd = report_cmd->add_subcommand("merge", "Combine reports (e.g. of shards) into one summary");
    merge_cmd->add_option("reports", merge.reports, "Reports written by --report (.json or .jsonl)")->required();
    merge_cmd->add_option("-o,--output", merge.output, "Also write the merged per-file results as JSON Lines");
    merge_cmd->add_flag("--json", merge.json, "Print the summary as JSON");
    cl.commands.push_back({merge_cmd, [&merge] { return cli::run_report_merge(merge); }});
}

// `bench`: every stage timed, figures only.
void add_bench(CLI::App& app, CommandLine& cl) {
    cli::BenchArgs& bench = cl.bench;
    CLI::App* bench_cmd = app.add_subcommand("bench", "Time every stage: C++ backends, Python eager and torch.compile, the machine's peak");
    bench_cmd->add_option("--models", bench.models, "Folder with vae.pt and vocoder.pt (for figures that mean "
                          "something: scripts/make_test_models.py --full)");
    add_runtime_options(*bench_cmd, bench.runtime);
    bench_cmd->add_option("--seconds", bench.seconds, "Clip length (default: one full 1024-frame window, 10.23 s "
                          "at 16 kHz)")->check(within(0.1, 600.0));
    bench_cmd->add_option("--batch-size", bench.batch_sizes, "Batch sizes to time, e.g. 1 8")->check(within(1, limits::kMaxBatchSize));
    bench_cmd->add_option("--repeat", bench.repeat, "Timed runs (the median is reported)")
        ->check(within(1, 1000))
        ->capture_default_str();
    bench_cmd->add_option("--warmup", bench.warmup, "Untimed runs first")->check(within(0, 100))->capture_default_str();
    bench_cmd->add_flag("!--no-python", bench.python, "Leave out the Python eager comparison");
    bench_cmd->add_flag("!--no-kernels", bench.kernels, "Leave out the probe of which oneDNN kernels run (CPU)");
    bench_cmd->add_option("--backends", bench.backends, "C++ backends to time side by side, e.g. torchscript compiled "
                          "(default: the one --backend picks)")
        ->check(CLI::IsMember({"auto", "torchscript", "compiled"}));
    bench_cmd->add_option("--python-compile", bench.python_compile, "Also time Python torch.compile in this mode "
                          "(its compile time is printed apart)")
        ->check(CLI::IsMember({"default", "max-autotune"}));
    bench_cmd->add_option("--json", bench.json_out, "Also write the figures as JSON to this file");
    cl.commands.push_back({bench_cmd, [&bench] { return cli::run_in_model_module("bench", &bench); }});
}

// `ablate`: stages x vocoders x feature scale.
void add_ablate(CLI::App& app, CommandLine& cl) {
    cli::AblateArgs& abl = cl.abl;
    CLI::App* ablate_cmd = app.add_subcommand("ablate", "Stages x vocoders x feature scale on the same inputs: which step loses what");
    ablate_cmd->add_option("inputs", abl.inputs, "Audio files, folders or @lists")->required();
    ablate_cmd->add_option("--models", abl.models, "Folder with vae.pt and vocoder.pt");
    add_runtime_options(*ablate_cmd, abl.runtime);
    ablate_cmd->add_option("--gl-iterations", abl.gl_iterations, "Griffin-Lim iterations")
        ->check(within(0, limits::kMaxGriffinLimIterations))
        ->capture_default_str();
    ablate_cmd->add_option("--json", abl.json_out, "Also write the table as JSON to this file");
    ablate_cmd->add_option("--metrics", abl.measures, "The columns: groups and keys as for reconstruction, e.g. "
                           "stoi,visqol (default: mel L1, LSD, MR-STFT, STOI, ESTOI, SI-SDR, F0, V/UV, VAE L1)");
    add_measure_network_options(*ablate_cmd, abl.networks, "the models folder");
    cl.commands.push_back({ablate_cmd, [&abl] { return cli::run_in_model_module("ablate", &abl); }});
}

// `encode`: audio to a latent file.
void add_encode(CLI::App& app, CommandLine& cl) {
    cli::EncodeArgs& enc = cl.enc;
    CLI::App* enc_cmd = app.add_subcommand("encode", "Encode audio to a .ldml latent file (scaled VAE latents, the input's "
                                       "gain and length, a checksum)");
    enc_cmd->add_option("input", enc.input, "Audio file")->required();
    enc_cmd->add_option("-o,--output", enc.output, "Output .ldml")->required();
    enc_cmd->add_option("--models", enc.models, "Folder with vae.pt and vocoder.pt");
    enc_cmd->add_option("--storage", enc.storage, "fp32 | fp16 | int8 (one scale per window and channel)")
        ->check(CLI::IsMember({"fp32", "fp16", "int8"}))
        ->capture_default_str();
    enc_cmd->add_option("--window-frames", enc.window_frames, "Frames per VAE pass")->check(within(1, limits::kMaxWindowFrames))->capture_default_str();
    enc_cmd->add_option("--overlap-frames", enc.overlap_frames, "Frames shared by neighbouring windows")
        ->check(within(0, limits::kMaxWindowFrames / 2))
        ->capture_default_str();
    enc_cmd->add_flag("--compare", enc.compare, "Also decode at every storage type and print size and quality");
    add_runtime_options(*enc_cmd, enc.runtime);
    cl.commands.push_back({enc_cmd, [&enc] { return cli::run_in_model_module("encode", &enc); }});
}

// `decode`: a latent file to audio.
void add_decode(CLI::App& app, CommandLine& cl) {
    cli::DecodeArgs& dec = cl.dec;
    CLI::App* dec_cmd = app.add_subcommand("decode", "Decode a .ldml latent file to audio with the models that encoded it");
    dec_cmd->add_option("input", dec.input, "Latent file written by ldmrecon encode")->required();
    dec_cmd->add_option("-o,--output", dec.output, "Output WAV at the model's rate")->required();
    dec_cmd->add_option("--models", dec.models, "Folder with vae.pt and vocoder.pt (the ones that encoded it)");
    dec_cmd->add_option("--reference", dec.reference, "Compare the output with this audio file and print the metrics");
    dec_cmd->add_option("--format", dec.format, "pcm16 | pcm24 | float")
        ->check(CLI::IsMember({"pcm16", "pcm24", "float"}))
        ->capture_default_str();
    add_runtime_options(*dec_cmd, dec.runtime);
    cl.commands.push_back({dec_cmd, [&dec] { return cli::run_in_model_module("decode", &dec); }});
}

// `compile`: AOTInductor packages for this machine.
void add_compile(CLI::App& app, CommandLine& cl) {
    cli::CompileArgs& comp = cl.comp;
    CLI::App* compile_cmd = app.add_subcommand("compile", "Compile the models with AOTInductor for this device and dtype "
                                           "(PyTorch 2 build; once per machine and model)");
    compile_cmd->add_option("--models", comp.models, "Folder with vae.pt and vocoder.pt");
    compile_cmd->add_option("--window-frames", comp.window_frames, "Also a static package per stage for one full "
                            "window of this many frames at batch 1, kept where it measures faster")
        ->check(within(1, limits::kMaxWindowFrames))
        ->capture_default_str();
    compile_cmd
        ->add_option("--calibration", comp.calibration,
                     "--dtype int8: speech like yours to calibrate the int8 activation ranges on (default: the "
                     "shipped example speech)")
        ->check(CLI::ExistingFile);
    add_runtime_options(*compile_cmd, comp.runtime, false);
    cl.commands.push_back({compile_cmd, [&comp] { return cli::run_in_model_module("compile", &comp); }});
}

// `info`: an export's metadata.
void add_info(CLI::App& app, CommandLine& cl) {
    cli::InfoArgs& info = cl.info;
    CLI::App* info_cmd = app.add_subcommand("info", "Print the metadata embedded in an export (file or folder)");
    info_cmd->add_option("model", info.path, "vae.pt, vocoder.pt, or a folder holding both")->required();
    info_cmd->add_flag("--json", info.json, "Print the raw metadata JSON");
    cl.commands.push_back({info_cmd, [&info] { return cli::run_info(info); }});
}

// "report merge" for the merge subcommand: the words a user types.
std::string command_name(const CLI::App& sub) {
    const CLI::App* parent = sub.get_parent();
    return parent && parent->get_parent() ? parent->get_name() + " " + sub.get_name() : sub.get_name();
}

// The first input is not a file but a word a user meant as a command: `help`, `version`, or a near miss of a
// subcommand (`metric`, `encod`). Returns the exit status when it handled it, -1 to go on.
int command_word(const CLI::App& app, const CommandLine& cl) {
    const std::string& first = cl.rec.inputs.front();
    std::error_code ec;
    if (first.empty() || first[0] == '@' || first[0] == '-' || std::filesystem::exists(first, ec)) return -1;
    if (first == "help") {
        std::cout << app.help();
        return 0;
    }
    if (first == "version") {
        std::cout << cli::version_string() << "\n";
        return 0;
    }
    std::vector<std::string> names;
    for (const auto& c : cl.commands) names.push_back(command_name(*c.app));
    names.push_back("report");
    const std::string best = closest(first, names);
    if (!best.empty())
        throw UsageError("'" + first + "' is neither a file nor a command; did you mean 'ldmrecon " + best + "'?");
    return -1;
}

// Runs the command the parsed line names and maps every error to its exit status, in one line.
int run_parsed(const CLI::App& app, CommandLine& cl) {
    try {
        set_raw_format(cl.raw);
        if (!cl.max_memory.empty()) limits::set_memory_limit(limits::parse_size(cl.max_memory, "--max-memory"));
        else limits::memory_limit();  // a bad $LDMRECON_MAX_MEMORY is a usage error now, not mid-run
        for (const auto& c : cl.commands)
            if (*c.app) {
                // Positionals a subcommand does not take land in the default command's inputs: refuse them
                // rather than ignore them (metrics A B C D compared A with B only).
                if (!cl.rec.inputs.empty())
                    throw UsageError(command_name(*c.app) + ": unexpected argument '" + cl.rec.inputs[0] + "' (see ldmrecon " +
                                     command_name(*c.app) + " --help)");
                return c.run();
            }
        if (cl.rec.inputs.empty()) {
            std::cerr << cli::short_help();
            return static_cast<int>(ExitCode::usage);
        }
        if (const int handled = command_word(app, cl); handled >= 0) return handled;
        return cli::run_in_model_module("reconstruct", &cl.rec);
    } catch (const Error& e) {
        spdlog::error("{}", shortened_words(e.what()));
        return static_cast<int>(e.code());
    } catch (const std::bad_alloc&) {
        spdlog::error("out of memory (try a shorter input, --device cpu, or a smaller --dtype)");
        return static_cast<int>(ExitCode::internal);
    } catch (const std::exception& e) {
        // libtorch's errors (c10::Error) carry a C++ backtrace after the first line: one line only. This file
        // includes no libtorch header (its bundled fmt would shadow the one spdlog is built with).
        const std::string msg = first_line(e.what());
        if (msg.find("not enough memory") != std::string::npos || msg.find("out of memory") != std::string::npos)
            spdlog::error("out of memory (try a shorter input, a smaller --batch-size or --window-frames)");
        else
            spdlog::error("{}", msg);
        return static_cast<int>(ExitCode::internal);
    }
}

}  // namespace

int main(int argc, char** argv) {
    install_default_signal_handlers();
    auto logger = spdlog::stderr_color_mt("ldmrecon");  // mt: metrics workers log from their threads
    logger->set_pattern("ldmrecon: %^%l%$: %v");
    spdlog::set_default_logger(logger);

    CLI::App app{"ldmrecon: reconstruct audio through the AudioLDM2 VAE and HiFi-GAN vocoder, and measure how "
                 "faithful the result is.\n\n"
                 "  ldmrecon IN -o OUT.wav [--models DIR]      reconstruct (the default command)\n"
                 "  ldmrecon IN... --out-dir DIR [--report R]  many files, folders, @lists\n"
                 "  ldmrecon report merge R1.jsonl R2.jsonl    combine the reports of shards\n"
                 "  ldmrecon mel IN -o OUT.npy                 the feature the VAE receives\n"
                 "  ldmrecon metrics REF EST [--json]          compare two audio files\n"
                 "  ldmrecon pitch IN [--json]                 the pitch track, 10 ms frames\n"
                 "  ldmrecon info MODEL.pt|DIR                 show an export's metadata\n"
                 "  ldmrecon encode IN -o X.ldml [--compare]   audio -> latent file\n"
                 "  ldmrecon decode X.ldml -o OUT.wav          latent file -> audio\n"
                 "  ldmrecon ablate IN... [--models DIR]       stages x vocoders: one table\n"
                 "  ldmrecon bench --models DIR                time every stage (figures)\n"
                 "  ldmrecon compile --models DIR              AOTInductor packages (PyTorch 2)\n",
                 "ldmrecon"};
    app.formatter(cli::wrapping_formatter());  // before the subcommands: they take it on
    // The binary's own line needs no libtorch; with -v the model module loads and says what runs.
    const bool verbose_version = std::any_of(argv + 1, argv + argc, [](const char* a) {
        return std::string(a) == "-v" || std::string(a) == "--verbose";
    });
    app.set_version_flag("--version", [verbose_version] {
        std::string v = cli::version_string();
        if (!verbose_version) return v;
        try {
            return v + "\nruntime: " + cli::module_runtime_description();
        } catch (const Error& e) {
            return v + "\nruntime: " + e.what();
        }
    });
    app.footer("Models: --models DIR, else $LDMRECON_MODELS, else the installed compact pair. Export\n"
               "AudioLDM2 with scripts/export_models.py.\n"
               "Exit status: 0 ok, 1 internal error, 2 usage, 3 input, 4 model, 5 output, 6 some inputs\n"
               "of a batch failed, 7 regression against --baseline / --require, 130 interrupted.");
    CommandLine cl;
    app.add_flag("-v,--verbose", cl.verbose, "More log lines (debug)");
    app.add_flag("-q,--quiet", cl.quiet, "Only warnings and errors on stderr; no table");
    app.add_option("--max-memory", cl.max_memory, "Memory a run may plan to use, e.g. 16G (default: the machine's "
                   "physical memory, or $LDMRECON_MAX_MEMORY); longer inputs are refused before reading");
    auto* raw = app.add_option_group("raw", "Headerless audio on standard input (-) or a FIFO");
    raw->add_option("--raw-rate", cl.raw.rate, "Its sample rate (Hz); without it a stream must have a header (WAV, FLAC, ...)")
        ->check(within(limits::kMinSampleRate, limits::kMaxSampleRate));
    raw->add_option("--raw-channels", cl.raw.channels, "Its channels")->check(within(1, 64))->capture_default_str();
    raw->add_option("--raw-format", cl.raw.encoding, "s8 | s16 | s24 | s32 | u8 | f32 | f64 (little-endian, sox's names)")
        ->check(CLI::IsMember({"s8", "s16", "s24", "s32", "u8", "f32", "f64"}))
        ->capture_default_str();
    app.fallthrough();  // -q, -v and --max-memory after a subcommand too
    add_reconstruct_options(app, cl.rec);
    add_stage_options(app, cl.rec);
    add_window_and_batch_options(app, cl.rec);
    add_output_options(app, cl.rec);
    for (auto add : {add_mel, add_pitch, add_metrics, add_report, add_bench, add_ablate, add_encode, add_decode,
                     add_compile, add_info})
        add(app, cl);
    // -h the short help, --help every option (the subcommands, made above, keep -h,--help for their own).
    app.set_help_flag("--help", "Every option, and exit");
    app.add_flag_callback("-h", [] {
        std::cout << cli::short_help();
        throw CLI::Success();
    }, "The usage and the options people use, and exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        // The help of the subcommand the error came from, when it came from one.
        std::string where = "ldmrecon";
        for (const CLI::App* sub : app.get_subcommands()) where += " " + command_name(*sub);
        std::cerr << "ldmrecon: error: " << shortened_words(with_option_suggestion(e.what(), app)) << " (see " << where
                  << " --help)\n";
        return static_cast<int>(ExitCode::usage);
    }
    spdlog::set_level(cl.quiet ? spdlog::level::warn : cl.verbose ? spdlog::level::debug : spdlog::level::info);
    cl.rec.quiet = cl.quiet;
    cl.met.quiet = cl.quiet;

    int status = run_parsed(app, cl);
    // What was printed must have arrived: a closed or broken standard output is an output error, not 0.
    std::cout.flush();
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
        spdlog::error("standard output: write failed ({})", io_error_text(errno));
        if (status == 0) status = static_cast<int>(ExitCode::output);
    }
    return status;
}
