// The model module's entry points (ldmrecon_torch.so): everything that needs libtorch runs behind them, and
// the binary finds them with dlsym the first time a model command runs (model_module.cpp).
#include <string>

#include "commands.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/models.hpp"

namespace ldmrecon::cli {

std::string runtime_description() { return libtorch_description() + ", attention by " + attention_implementation(); }

}  // namespace ldmrecon::cli

using namespace ldmrecon;

extern "C" {

// The binary refuses a module whose argument structs may differ from its own (another build).
__attribute__((visibility("default"))) const char* ldmrecon_module_abi() {
    static const std::string abi = cli::module_abi();
    return abi.c_str();
}

__attribute__((visibility("default"))) const char* ldmrecon_module_runtime() {
    static const std::string text = cli::runtime_description();
    return text.c_str();
}

// Runs one model command; ldmrecon::Error and the rest propagate to the binary's handlers.
__attribute__((visibility("default"))) int ldmrecon_module_run(const char* command, const void* args) {
    const std::string c = command;
    if (c == "reconstruct") return cli::run_reconstruct(*static_cast<const cli::ReconstructArgs*>(args));
    if (c == "encode") return cli::run_encode(*static_cast<const cli::EncodeArgs*>(args));
    if (c == "decode") return cli::run_decode(*static_cast<const cli::DecodeArgs*>(args));
    if (c == "ablate") return cli::run_ablate(*static_cast<const cli::AblateArgs*>(args));
    if (c == "bench") return cli::run_bench(*static_cast<const cli::BenchArgs*>(args));
    if (c == "compile") return cli::run_compile(*static_cast<const cli::CompileArgs*>(args));
    throw Error(ExitCode::internal, "the model module has no command '" + c + "'");
}

}  // extern "C"
