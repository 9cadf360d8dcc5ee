// The ldmrecon subcommands. Each takes parsed options, calls the library, prints, and returns an exit
// status; errors are thrown as ldmrecon::Error and mapped to exit codes in main.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <vector>

#include "ldmrecon/metrics.hpp"
#include "ldmrecon/models.hpp"
#include "ldmrecon/outputs.hpp"
#include "ldmrecon/pesq.hpp"
#include "ldmrecon/pipeline.hpp"
#include "ldmrecon/results.hpp"

namespace ldmrecon::cli {

// --crepe FILE, --distillmos FILE, --dnsmos FILE: the exports of the learned measures (default: beside the models).
struct MeasureNetworkFiles {
    std::string crepe, distillmos, dnsmos;
};

struct ReconstructArgs {
    std::vector<std::string> inputs;  // files, folders, @lists
    std::string output, out_dir, models, report, dump_dir, plot, format = "pcm16", shard, baseline;
    std::string output_format = "wav";  // --out-dir's container: the extension its outputs get
    std::string stage = "full", vocoder = "hifigan";
    std::vector<std::string> tolerances, requirements;
    RuntimeOptions runtime;
    ReconstructOptions pipeline;
    bool json = false, quiet = false, skip_existing = false, pesq = false;
    double max_lag_ms = 100.0;
    std::string measures = "all";  // --metrics LIST
    MeasureNetworkFiles networks;  // --crepe, --distillmos, --dnsmos
    int jobs = -1;                 // --jobs: worker threads around the models; -1: the default for the device
    std::string window_plan = "end-aligned", level = "peak";  // --window-plan, --level
    bool stream = false;           // --stream: tools/stream.cpp
    bool raw_output = false;       // --stream --raw-output: -o - without a header
    double latency = 0;            // --stream --latency SECONDS: picks the window; 0: --window-frames
    double report_every = 0;       // --stream --report-every SECONDS: interval lines in the report
};
// Reconstructs one file (-o) or many (--out-dir), batched, with reports, shards and baselines.
int run_reconstruct(const ReconstructArgs& a);
// --stream: one input reconstructed as it arrives, written as it goes (tools/stream.cpp).
int run_stream(const ReconstructArgs& a);

struct MergeArgs {
    std::vector<std::string> reports;
    std::string output;
    bool json = false;
};
int run_report_merge(const MergeArgs& a);

struct MelArgs {
    std::string input, output, models, mel_scale = "ln";
};
int run_mel(const MelArgs& a);

struct PitchArgs {
    std::string input, output;
    std::string crepe;  // --crepe FILE: CREPE's track instead of YIN's
    int sample_rate = 16000;
    bool json = false;
};
// The pitch track of a file: time, F0, periodicity, voiced, one row a frame (CSV on stdout or -o).
int run_pitch(const PitchArgs& a);

struct MetricsArgs {
    std::string reference, estimate;  // two files, or two folders whose files mirror each other
    std::string pairs, report;        // --pairs LIST (REF<TAB>EST a line), --report R.jsonl|.csv|.json
    int jobs = 0;                     // worker threads for many pairs; 0: every core
    bool quiet = false;               // -q: no summary table
    bool json = false, pesq = false, list = false;  // list: --list, print the measures' catalogue
    double max_lag_ms = 100.0;
    int sample_rate = 16000;
    std::string measures = "all";  // --metrics LIST
    MeasureNetworkFiles networks;  // --crepe, --distillmos, --dnsmos
};
int run_metrics(const MetricsArgs& a);
// Many pairs (--pairs, or two folders) on `jobs` threads: per-pair records, a summary, exit 6 when some
// failed, 130 when interrupted (what finished is reported).
int run_metrics_batch(const MetricsArgs& a);

struct InfoArgs {
    std::string path;
    bool json = false;
};
int run_info(const InfoArgs& a);

struct BenchArgs {
    std::string models, json_out;
    RuntimeOptions runtime;
    // Clip length; 0: one full window of the default 1024 frames ((1024 - 1) hops: 10.23 s at 16 kHz), the
    // pass every window of a long input makes. Any other length is timed as one pass of its padded frames.
    double seconds = 0;
    std::vector<int> batch_sizes{1};
    int repeat = 3, warmup = 1;
    bool python = true;
    bool kernels = true;                // on the CPU: which oneDNN kernels each stage group runs
    std::vector<std::string> backends;  // C++ backends to time, each loaded once; empty: runtime.backend
    std::string python_compile;         // "", "default" or "max-autotune": also time torch.compile
};
// Figures only: per-stage times per runner (C++ backends, Python eager, torch.compile), x real time, FLOP
// rates against the measured peak, the ratio to Python eager, peak memory.
int run_bench(const BenchArgs& a);

struct AblateArgs {
    std::vector<std::string> inputs;
    std::string models, json_out;
    std::string measures;  // --metrics: empty for the default columns
    MeasureNetworkFiles networks;
    RuntimeOptions runtime;
    int gl_iterations = 32;
};
// Stage x vocoder x feature scale on the same inputs, one table.
int run_ablate(const AblateArgs& a);

struct EncodeArgs {
    std::string input, output, models, storage = "fp16";
    RuntimeOptions runtime;
    int window_frames = 1024, overlap_frames = 64;
    bool compare = false;
};
// Audio -> .ldml latent file; --compare decodes every storage type and prints its quality.
int run_encode(const EncodeArgs& a);

struct DecodeArgs {
    std::string input, output, models, reference, format = "pcm16";
    RuntimeOptions runtime;
};
// .ldml -> audio, with the models that encoded it; --reference adds the metrics.
int run_decode(const DecodeArgs& a);

struct CompileArgs {
    std::string models;
    int window_frames = 1024;  // the window the static packages take (reconstruct's --window-frames)
    std::vector<std::string> calibration;  // --dtype int8: speech to calibrate on (default: the shipped example)
    RuntimeOptions runtime;
};
// AOTInductor packages of the models for this device and dtype, beside the exports (scripts/compile_models.py
// under the PyTorch 2 environment); prints how long compiling took.
int run_compile(const CompileArgs& a);

// "ldmrecon 0.1.0 (libtorch ..., libsndfile ..., fftw ..., soxr ...)". The libtorch part is
// runtime_description(): in the binary what it was built against (it has not loaded libtorch), in the
// model module what runs (CUDA devices, the attention kernel).
std::string version_string();
std::string runtime_description();

// The model commands (reconstruct, encode, decode, ablate, bench, compile) run in the model module, a
// shared library holding libtorch that the binary loads the first time one runs (model_module.cpp):
// `command` names the command, `args` points to its *Args struct. Its environment (OpenBLAS's core type)
// is set before the load. Throws ModelError when the module cannot be loaded.
int run_in_model_module(const std::string& command, const void* args);
// The module's own runtime_description(), loading it: what --version --verbose prints.
std::string module_runtime_description();
// Loads the model module without running a command in it (a model-free command that needs a network,
// as `metrics --metrics crepe`). Defined in the binary only.
void load_model_module();

// Where scripts/ is: installed beside the binary, else the source tree's.
std::string scripts_dir();
// Runs a shell command line; its standard output with trailing whitespace trimmed, "" when it exits
// non-zero (e.g. scripts/find_python.sh finding no Python with the modules asked for).
std::string command_output(const std::string& command);
// The PESQ helper when --pesq was given (nullptr otherwise); throws UsageError saying how to install pesq.
std::unique_ptr<PesqHelper> start_pesq(bool wanted);

// The learned measures' networks (crepe, distillmos, dnsmos) that `mo.measures` computes, into `mo`: each its
// file, else its default name (crepe_full.pt, distillmos.pt, dnsmos.pt) in the models folder `models` resolves to.
// Throws ModelError saying how to export a missing one, UsageError when `sample_rate` is not their 16 kHz.
void attach_measure_networks(MetricsOptions& mo, const MeasureNetworkFiles& files, const std::string& models,
                             const std::string& device, int sample_rate);
// Whether `sel` computes a measure that needs a network (and so libtorch).
bool needs_measure_networks(const MeasureSelection& sel);

// --metrics LIST, with --pesq adding the pesq group; throws UsageError when a --require names a measure
// the list leaves out (it could never be checked).
MeasureSelection measure_selection(const std::string& list, bool pesq, const std::vector<Requirement>& requirements);

// Adds the export files that `models` resolves to (when it resolves) to a plan's inputs: no output may
// replace the models. A missing models folder is reported later, when the models load.
void add_models_as_inputs(OutputPlan& plan, const std::string& models);

// Warns when a report holds two records for one input (the later one counts).
void warn_repeated(const std::string& report, const std::vector<FileResult>& results);

struct NamedOutput {
    std::string option, path;
    bool stdout_ok = false;
    FileKind kind = FileKind::unknown;  // what it writes: a name that says another kind is refused
};
// The output rule (outputs.hpp) for a command that reads `inputs` (arguments as given: files, folders and
// @lists are expanded, the list files counted as inputs too) and the models `models` (its --models
// argument; "-" when it uses none) and writes `outputs` (empty paths skipped): throws UsageError or
// OutputError before any work.
void check_outputs(const std::vector<std::string>& inputs, const std::string& models,
                   const std::vector<NamedOutput>& outputs);

// Identifies the layout of the argument structs: a binary runs only a model module that says the same.
inline std::string module_abi() {
    return std::string(LDMRECON_VERSION) + "/" + std::to_string(sizeof(ReconstructArgs)) + "." +
           std::to_string(sizeof(EncodeArgs)) + "." + std::to_string(sizeof(DecodeArgs)) + "." +
           std::to_string(sizeof(AblateArgs)) + "." + std::to_string(sizeof(BenchArgs)) + "." +
           std::to_string(sizeof(CompileArgs)) + "." + std::to_string(sizeof(ReconstructOptions));
}

// Exit statuses beyond ldmrecon::ExitCode, for batches (README.md, "Exit status").
constexpr int kExitSomeFailed = 6;
constexpr int kExitRegression = 7;
constexpr int kExitInterrupted = 130;

}  // namespace ldmrecon::cli
