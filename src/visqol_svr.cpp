// ViSQOL audio mode's mapping from the 32 bands' NSIM to MOS: Google's nu-SVR model, read from the copy of
// model/libsvm_nu_svr_model.txt built into the library (models/visqol/, Apache-2.0, see its NOTICE).
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <string>

#include "ldmrecon/errors.hpp"
#include "visqol_impl.hpp"

namespace ldmrecon {
extern const char* const kVisqolSvrModelText;  // generated from models/visqol/libsvm_nu_svr_model.txt
}

namespace ldmrecon::visqol_detail {

namespace {

struct SvrModel {
    double gamma = 0, rho = 0;
    std::vector<double> coef;
    std::vector<std::vector<double>> sv;  // dense: libsvm's omitted indices are zeros
};

// libsvm's text format (svm_save_model): header lines "key value", then "SV" and one line per support
// vector, "coef index:value ...". Only what an RBF nu-SVR needs is read; anything else is an error.
SvrModel parse_model(const char* text) {
    SvrModel m;
    std::istringstream in(text);
    std::string line;
    bool in_vectors = false, rbf = false, nu_svr = false;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        if (!in_vectors) {
            std::string key, value;
            words >> key >> value;
            if (key == "SV")
                in_vectors = true;
            else if (key == "svm_type")
                nu_svr = value == "nu_svr";
            else if (key == "kernel_type")
                rbf = value == "rbf";
            else if (key == "gamma")
                m.gamma = std::strtod(value.c_str(), nullptr);
            else if (key == "rho")
                m.rho = std::strtod(value.c_str(), nullptr);
            continue;
        }
        double coef = 0;
        if (!(words >> coef)) continue;
        std::vector<double> v;
        std::string node;
        while (words >> node) {
            const auto colon = node.find(':');
            const long index = std::strtol(node.c_str(), nullptr, 10);
            if (colon == std::string::npos || index < 1)
                throw ModelError("ViSQOL's SVR model: bad node '" + node + "'");
            if (static_cast<std::size_t>(index) > v.size()) v.resize(static_cast<std::size_t>(index), 0.0);
            v[static_cast<std::size_t>(index) - 1] = std::strtod(node.c_str() + colon + 1, nullptr);
        }
        m.coef.push_back(coef);
        m.sv.push_back(std::move(v));
    }
    if (!nu_svr || !rbf || m.sv.empty()) throw ModelError("ViSQOL's built-in SVR model is not an RBF nu-SVR");
    return m;
}

const SvrModel& model() {
    static const SvrModel m = parse_model(kVisqolSvrModelText);
    return m;
}

}  // namespace

double svr_predict(const std::vector<double>& band_nsim) {
    // ref: libsvm svm.cpp svm_predict_values (SVR: sum coef_i K(x, sv_i) - rho), Kernel::k_function (RBF
    // over the union of indices); then clamped to 1..5 by svr_similarity_to_quality_mapper.cc.
    const SvrModel& m = model();
    double sum = 0;
    for (std::size_t i = 0; i < m.sv.size(); ++i) {
        const auto& sv = m.sv[i];
        double d2 = 0;
        for (std::size_t k = 0; k < std::max(sv.size(), band_nsim.size()); ++k) {
            const double a = k < band_nsim.size() ? band_nsim[k] : 0.0, b = k < sv.size() ? sv[k] : 0.0;
            d2 += (a - b) * (a - b);
        }
        sum += m.coef[i] * std::exp(-m.gamma * d2);
    }
    return sum - m.rho;
}

std::size_t svr_support_vectors() { return model().sv.size(); }

}  // namespace ldmrecon::visqol_detail
