// What an export says about itself, read without libtorch: TorchScript archives are zip files whose
// entries are stored uncompressed, and the metadata is one of them. Also where models are found.
#include "ldmrecon/exports.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/files.hpp"

namespace fs = std::filesystem;

namespace ldmrecon {

namespace {

constexpr const char* kMetadataName = "ldmrecon.json";  // ref: scripts/ldmrecon_export.py METADATA_NAME
constexpr const char* kExportHint = "export AudioLDM2 with: python3 scripts/export_models.py cvssp/audioldm2 -o DIR";

// Little-endian fields of a zip record.
std::uint64_t le(const char* p, int bytes) {
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

struct ZipFile {
    std::ifstream in;
    std::string path;
    std::uint64_t size = 0;

    std::string read(std::uint64_t offset, std::uint64_t n) {
        if (offset > size || n > size - offset) bad("a record points past the end of the file");
        std::string b(static_cast<std::size_t>(n), '\0');
        in.seekg(static_cast<std::streamoff>(offset));
        if (!in.read(b.data(), static_cast<std::streamsize>(n))) bad("read failed");
        return b;
    }
    [[noreturn]] void bad(const std::string& why) const {
        throw ModelError(path + ": not a TorchScript export (" + why + "); " + kExportHint);
    }
};

// The 64-bit values a zip64 "extra" field holds for the fields that are 0xFFFFFFFF, in their order.
void zip64_fields(const std::string& extra, std::uint64_t* fields[], int n) {
    for (std::size_t at = 0; at + 4 <= extra.size();) {
        const std::uint64_t id = le(&extra[at], 2), len = le(&extra[at + 2], 2);
        if (id == 1) {
            std::size_t p = at + 4;
            for (int k = 0; k < n; ++k)
                if (*fields[k] == 0xFFFFFFFFu && p + 8 <= at + 4 + len) *fields[k] = le(&extra[p], 8), p += 8;
            return;
        }
        at += 4 + len;
    }
}

}  // namespace

std::string read_zip_entry(const std::string& path, const std::string& suffix) {
    ZipFile z{std::ifstream(path, std::ios::binary), path};
    if (!z.in) throw ModelError(path + ": cannot open (check its permissions)");
    z.in.seekg(0, std::ios::end);
    z.size = static_cast<std::uint64_t>(z.in.tellg());
    // The end-of-central-directory record: in the last 64 KiB + 22 bytes (its comment is at most 64 KiB).
    const std::uint64_t tail_n = std::min<std::uint64_t>(z.size, 65557);
    const std::string tail = z.read(z.size - tail_n, tail_n);
    std::size_t eocd = std::string::npos;
    for (std::size_t i = tail.size() >= 22 ? tail.size() - 22 + 1 : 0; i-- > 0;)
        if (std::memcmp(&tail[i], "PK\x05\x06", 4) == 0) {
            eocd = i;
            break;
        }
    if (eocd == std::string::npos) z.bad("no zip directory");
    std::uint64_t entries = le(&tail[eocd + 10], 2), cd_offset = le(&tail[eocd + 16], 4);
    if ((cd_offset == 0xFFFFFFFFu || entries == 0xFFFF) && eocd >= 20 && std::memcmp(&tail[eocd - 20], "PK\x06\x07", 4) == 0) {
        const std::string rec = z.read(le(&tail[eocd - 20 + 8], 8), 56);  // the zip64 end record
        if (std::memcmp(rec.data(), "PK\x06\x06", 4) != 0) z.bad("a broken zip64 directory");
        entries = le(&rec[32], 8);
        cd_offset = le(&rec[48], 8);
    }
    std::uint64_t at = cd_offset;
    for (std::uint64_t e = 0; e < entries; ++e) {
        const std::string h = z.read(at, 46);
        if (std::memcmp(h.data(), "PK\x01\x02", 4) != 0) z.bad("a broken zip directory entry");
        const std::uint64_t method = le(&h[10], 2), name_n = le(&h[28], 2), extra_n = le(&h[30], 2), comment_n = le(&h[32], 2);
        std::uint64_t compressed = le(&h[20], 4), plain = le(&h[24], 4), local = le(&h[42], 4);
        const std::string name = z.read(at + 46, name_n);
        at += 46 + name_n + extra_n + comment_n;
        if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
        std::uint64_t* fields[] = {&plain, &compressed, &local};
        zip64_fields(z.read(at - extra_n - comment_n, extra_n), fields, 3);
        if (method != 0 || compressed != plain) z.bad("its " + name + " is compressed");
        if (plain > (16u << 20)) z.bad("its " + name + " claims " + std::to_string(plain) + " bytes");  // metadata is KB
        const std::string lh = z.read(local, 30);
        if (std::memcmp(lh.data(), "PK\x03\x04", 4) != 0) z.bad("a broken local header");
        return z.read(local + 30 + le(&lh[26], 2) + le(&lh[28], 2), plain);
    }
    throw ModelError(path + ": has no ldmrecon metadata (" + suffix.substr(suffix.rfind('/') + 1) +
                     "); re-export it with scripts/export_models.py");
}

std::string hex_id(std::uint64_t id) {
    std::ostringstream s;
    s << std::hex << id;
    return s.str();
}

nlohmann::json read_export_metadata(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw ModelError(path + ": no such model file (" + kExportHint + ")");
    if (!S_ISREG(st.st_mode))
        throw ModelError(path + ": is " + file_kind(st.st_mode) + "; a model must be a regular file (" + kExportHint + ")");
    const std::string text = read_zip_entry(path, std::string("/extra/") + kMetadataName);
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
        throw ModelError(path + ": its ldmrecon metadata is not valid JSON; re-export it with scripts/export_models.py");
    }
}

FeatureConfig feature_from_metadata(const nlohmann::json& meta, const std::string& path) {
    if (!meta.contains("feature") || !meta["feature"].is_object())
        throw ModelError(path + ": metadata has no 'feature' section; re-export it with scripts/export_models.py");
    const nlohmann::json& f = meta["feature"];
    // The parts of the feature this build computes; any other value is refused rather than ignored.
    const std::pair<const char*, const char*> fixed[] = {
        {"window", "hann_periodic"}, {"pad_mode", "reflect"},     {"spectrum", "magnitude"},
        {"mel_scale", "slaney"},     {"mel_norm", "slaney"},      {"compression", "ln"},
        {"layout", "time_major"},    {"waveform_normalisation", "mean_peak_half"},
    };
    for (const auto& [key, want] : fixed) {
        const std::string got = f.value(key, std::string("<missing>"));
        if (got != want)
            throw ModelError(path + ": feature " + key + " is '" + got + "', but ldmrecon computes '" + want + "'");
    }
    if (!f.value("center", false)) throw ModelError(path + ": feature center is false, but ldmrecon centres frames");
    FeatureConfig c;
    try {
        c.sample_rate = f.at("sample_rate").get<int>();
        c.n_fft = f.at("n_fft").get<int>();
        c.win_length = f.at("win_length").get<int>();
        c.hop_length = f.at("hop_length").get<int>();
        c.n_mels = f.at("n_mels").get<int>();
        c.fmin = f.at("fmin").get<double>();
        c.fmax = f.at("fmax").get<double>();
        c.floor = f.at("floor").get<double>();
    } catch (const nlohmann::json::exception& e) {
        throw ModelError(path + ": feature metadata incomplete (" + std::string(e.what()) + ")");
    }
    if (c.sample_rate <= 0 || c.n_fft < 2 || c.hop_length < 1 || c.win_length < 1 || c.win_length > c.n_fft ||
        c.n_mels < 1 || c.fmax <= c.fmin || c.fmax > c.sample_rate / 2.0 + 1e-9 || c.floor <= 0)
        throw ModelError(path + ": feature metadata holds impossible values");
    return c;
}

FeatureConfig feature_of_models_dir(const std::string& dir) {
    const std::string vae = (fs::path(resolve_models_dir(dir)) / "vae.pt").string();
    return feature_from_metadata(read_export_metadata(vae), vae);
}

std::vector<std::string> feature_differences(const FeatureConfig& a, const FeatureConfig& b) {
    std::vector<std::string> d;
    auto cmp = [&d](const char* k, double x, double y) {
        if (x != y) {
            std::ostringstream s;
            s << k << ": " << x << " vs " << y;
            d.push_back(s.str());
        }
    };
    cmp("sample_rate", a.sample_rate, b.sample_rate);
    cmp("n_fft", a.n_fft, b.n_fft);
    cmp("win_length", a.win_length, b.win_length);
    cmp("hop_length", a.hop_length, b.hop_length);
    cmp("n_mels", a.n_mels, b.n_mels);
    cmp("fmin", a.fmin, b.fmin);
    cmp("fmax", a.fmax, b.fmax);
    cmp("floor", a.floor, b.floor);
    return d;
}

std::string resolve_models_dir(const std::string& explicit_dir) {
    auto complete = [](const fs::path& d) {
        std::error_code ec;
        return fs::exists(d / "vae.pt", ec) && fs::exists(d / "vocoder.pt", ec);
    };
    if (!explicit_dir.empty()) {
        std::error_code ec;
        if (fs::exists(explicit_dir, ec) && !fs::is_directory(explicit_dir, ec)) {
            const fs::path parent = fs::path(explicit_dir).parent_path();
            throw ModelError(explicit_dir + ": is a file; --models takes the folder that holds vae.pt and vocoder.pt "
                             "(--models " + (parent.empty() ? std::string(".") : parent.string()) + ")");
        }
        if (!fs::is_directory(explicit_dir, ec))
            throw ModelError(explicit_dir + ": models folder does not exist (" + kExportHint + ")");
        for (const char* f : {"vae.pt", "vocoder.pt"})
            if (!fs::exists(fs::path(explicit_dir) / f, ec))
                throw ModelError(explicit_dir + ": no " + f + " in the models folder (" + kExportHint + ")");
        return explicit_dir;
    }
    std::vector<std::string> tried;
    if (const char* env = std::getenv("LDMRECON_MODELS"); env && *env) {
        if (complete(env)) return env;
        throw ModelError(std::string(env) + " (from $LDMRECON_MODELS): no vae.pt and vocoder.pt there (" +
                         kExportHint + ")");
    }
    std::vector<fs::path> candidates;
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) candidates.push_back(exe.parent_path().parent_path() / "share" / "ldmrecon" / "models");
#ifdef LDMRECON_INSTALL_MODELS_DIR
    candidates.emplace_back(LDMRECON_INSTALL_MODELS_DIR);
#endif
#ifdef LDMRECON_SOURCE_MODELS_DIR
    candidates.emplace_back(LDMRECON_SOURCE_MODELS_DIR);
#endif
    std::string list;
    for (const auto& c : candidates) {
        if (complete(c)) return c.string();
        list += (list.empty() ? "" : ", ") + c.string();
    }
    throw ModelError("no models found (looked in $LDMRECON_MODELS and " + list + "); " + kExportHint +
                     " and pass --models DIR, or make test models with scripts/make_test_models.py");
}

}  // namespace ldmrecon
