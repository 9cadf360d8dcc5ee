// The output rule (outputs.hpp), the temporary-file writer and the limits, without the command line.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ldmrecon/audio.hpp"
#include "temp_folder.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/limits.hpp"
#include "ldmrecon/outputs.hpp"
#include "ldmrecon/report.hpp"

using namespace ldmrecon;
namespace fs = std::filesystem;

namespace {

template <class F>
ExitCode code_of(F f) {
    try {
        f();
    } catch (const Error& e) {
        return e.code();
    }
    return ExitCode::ok;
}

}  // namespace

TEST_CASE("an output may be new or a regular file, and /dev/null or - where offered", "[outputs]") {
    TempFolder d;
    CHECK(classify_output(d / "new.wav", "-o") == OutputKind::file);
    CHECK(classify_output(d.touch("old.wav"), "-o") == OutputKind::file);
    CHECK(classify_output("/dev/null", "-o") == OutputKind::discard);
    CHECK(classify_output("-", "--report", true) == OutputKind::standard_output);
    CHECK(code_of([] { classify_output("-", "--plot"); }) == ExitCode::usage);
    CHECK(code_of([&] { classify_output(d.path.string(), "-o"); }) == ExitCode::output);
    CHECK(code_of([&] { classify_output(d / "missing/x.wav", "-o"); }) == ExitCode::output);
    CHECK(classify_output(d / "missing/deeper/x.wav", "--out-dir", false, true) == OutputKind::file);
    ::mkfifo((d / "fifo").c_str(), 0600);
    CHECK_THROWS_WITH(classify_output(d / "fifo", "-o"), Catch::Contains("FIFO"));
    CHECK_THROWS_WITH(classify_output("/dev/zero", "-o"), Catch::Contains("character device"));
    fs::create_symlink("/dev/null", d.path / "null-link");
    CHECK(classify_output(d / "null-link", "-o") == OutputKind::discard);
    fs::create_symlink(d / "old.wav", d.path / "link.wav");
    CHECK_THROWS_WITH(classify_output(d / "link.wav", "-o"), Catch::Contains("symbolic link"));
    // Below a file: named as what is in the way.
    d.touch("blocker");
    CHECK_THROWS_WITH(classify_output(d / "blocker/x.wav", "--out-dir", false, true), Catch::Contains("blocker is a file"));
}

TEST_CASE("no output may be an input or another output, by identity", "[outputs]") {
    TempFolder d;
    const std::string in = d.touch("in.wav");
    fs::create_hard_link(in, d.path / "hard.wav");
    OutputPlan plan;
    plan.add_input(in);
    CHECK_THROWS_WITH(plan.add_output(in, "--report"), Catch::Contains("would overwrite the input"));
    CHECK(code_of([&] { plan.add_output(d / "hard.wav", "-o"); }) == ExitCode::usage);
    fs::create_directories(d.path / "sub");
    CHECK(code_of([&] { plan.add_output(d / "./sub/../in.wav", "-o"); }) == ExitCode::usage);
    plan.add_output(d / "out.wav", "-o");
    CHECK_THROWS_WITH(plan.add_output(d / "out.wav", "--plot"), Catch::Contains("the -o output of this run"));
    // Standard output once; /dev/null as often as asked.
    CHECK(plan.add_output("-", "--report", true) == OutputKind::standard_output);
    CHECK(plan.claims_standard_output());
    CHECK(code_of([&] { plan.add_output("-", "-o", true); }) == ExitCode::usage);
    CHECK(plan.add_output("/dev/null", "--plot") == OutputKind::discard);
    CHECK(plan.add_output("/dev/null", "--dump-dir") == OutputKind::discard);
    const auto r = plan.try_add_output(d / "hard.wav", "--out-dir");
    CHECK(r.code == ExitCode::usage);
    CHECK_THAT(r.message, Catch::Contains("hard.wav"));
    CHECK(plan.try_add_output(d / "b.wav", "--out-dir").code == ExitCode::ok);
}

TEST_CASE("a failed write leaves neither the target nor a temporary", "[outputs]") {
    TempFolder d;
    {
        TempFile t(d / "x.bin");
        std::ofstream(t.path()) << "partial";
        CHECK(d.names() == std::vector<std::string>{".x.bin.tmp-" + std::to_string(::getpid())});
    }  // no commit: removed
    CHECK(d.names().empty());
    write_file_atomically(d / "y.txt", "hello");
    CHECK(d.names() == std::vector<std::string>{"y.txt"});
    // A twin of /dev/null (same device numbers) where we may make one, else a link to it: if discarding
    // ever broke, this test would replace its own node, never the machine's /dev/null.
    const std::string null = d / "null";
    if (::mknod(null.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) fs::create_symlink("/dev/null", null);
    write_file_atomically(null, "discarded");
    write_wav(null, {0.5f, 2.f}, 16000);
    struct stat st {};
    REQUIRE(::stat(null.c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK(d.names() == std::vector<std::string>{"null", "y.txt"});
}

TEST_CASE("folders: what is in the way is named", "[outputs]") {
    TempFolder d;
    d.touch("f");
    CHECK_THROWS_WITH(make_folders(d / "f/g"), Catch::Contains("f is a file"));
    CHECK_THROWS_WITH(check_output_folder_path(d / "f", "--out-dir"), Catch::Contains("is a file, not a folder"));
    check_output_folder_path(d / "new/deeper", "--out-dir");
    make_folders(d / "new/deeper");
    CHECK(fs::is_directory(d / "new/deeper"));
}

TEST_CASE("inputs: only regular files are opened", "[outputs]") {
    TempFolder d;
    ::mkfifo((d / "fifo.wav").c_str(), 0600);
    CHECK_THROWS_WITH(check_input_file(d / "fifo.wav"), Catch::Contains("FIFO"));  // returns at once: no open()
    CHECK_THROWS_WITH(check_input_file("/dev/zero"), Catch::Contains("character device"));
    CHECK_THROWS_WITH(check_input_file(d / "none.wav"), Catch::Contains("no such file"));
    CHECK_THROWS_WITH(check_input_file(d.path.string()), Catch::Contains("is a folder"));
}

TEST_CASE("sizes, numbers and the memory estimate", "[limits]") {
    CHECK(limits::parse_size("8G", "x") == 8ull << 30);
    CHECK(limits::parse_size("512m", "x") == 512ull << 20);
    CHECK(limits::parse_size("1.5K", "x") == 1536);
    CHECK(limits::parse_size("2GB", "x") == 2ull << 30);
    CHECK(limits::parse_size("1000", "x") == 1000);
    for (const char* bad : {"", "G", "-1G", "8Q", "nan", "0", "1e400"})
        CHECK(code_of([&] { limits::parse_size(bad, "--max-memory"); }) == ExitCode::usage);
    CHECK(limits::short_number(1e30) == "1e+30");
    CHECK(limits::short_number(16000) == "16000");
    limits::set_memory_limit(1ull << 30);
    // 1 GB holds (1 GiB - 512 MiB) / 32 B = 16.8 M samples at the model rate, 17.5 min at 16 kHz.
    limits::check_audio_memory("a.wav", 16'000'000, 16000);
    CHECK_THROWS_WITH(limits::check_audio_memory("a.wav", 17'000'000, 16000),
                      Catch::Contains("a.wav") && Catch::Contains("--max-memory"));
    // A hostile count must not wrap around to a small product.
    CHECK(code_of([] { limits::check_audio_memory("h.wav", ~0ull / 3, 16000); }) == ExitCode::input);
    limits::set_memory_limit(0);
}

TEST_CASE("report text: any byte in a name, escaped as Python's backslashreplace", "[outputs]") {
    CHECK(utf8_escaped("caf\xc3\xa9.wav") == "caf\xc3\xa9.wav");  // valid UTF-8 is kept
    CHECK(utf8_escaped("caf\xe9.wav") == "caf\\xe9.wav");         // Latin-1
    CHECK(utf8_escaped("\xc0\xaf") == "\\xc0\\xaf");              // an overlong '/'
    CHECK(utf8_escaped("\xed\xa0\x80") == "\\xed\\xa0\\x80");     // a UTF-16 surrogate
    CHECK(utf8_escaped("\xf0\x9f\x8e\xb5") == "\xf0\x9f\x8e\xb5");  // U+1F3B5, four bytes
    CHECK(utf8_escaped("\xe2\x82") == "\\xe2\\x82");              // cut short
    const nlohmann::json j = {{"input", "a/caf\xe9.wav"}, {"k\xff", {"x", 1}}};
    CHECK(json_text(j) == R"({"input":"a/caf\\xe9.wav","k\\xff":["x",1]})");
}

TEST_CASE("file kinds by extension, and the report format", "[outputs]") {
    CHECK(kind_of_path("a/B.WAV") == FileKind::audio);
    CHECK(kind_of_path("r.JsonL") == FileKind::report);
    CHECK(kind_of_path("m.pt2") == FileKind::model);
    CHECK(kind_of_path("x.bin") == FileKind::unknown);
    CHECK(code_of([] { check_output_extension("c.wav", "--plot", FileKind::plot); }) == ExitCode::usage);
    CHECK(code_of([] { check_output_extension("c.png", "--plot", FileKind::plot); }) == ExitCode::ok);
    CHECK(code_of([] { check_output_extension("c.out", "--plot", FileKind::plot); }) == ExitCode::ok);
    CHECK(code_of([] { check_output_extension("-", "-o", FileKind::audio); }) == ExitCode::ok);
    CHECK(report_format("R.CSV") == "csv");
    CHECK(report_format("r.jsonl") == "jsonl");
    CHECK(report_format("-") == "json");
    CHECK(code_of([] { report_format("r.txt"); }) == ExitCode::usage);
}

TEST_CASE("a replaced file keeps its mode; a long name gets a short temporary", "[outputs]") {
    TempFolder dir;
    const std::string f = (dir.path / "o.txt").string();
    write_file_atomically(f, "one");
    ::chmod(f.c_str(), 0600);
    write_file_atomically(f, "two");
    struct stat st {};
    REQUIRE(::stat(f.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    const std::string long_name = (dir.path / (std::string(250, 'n') + ".txt")).string();
    write_file_atomically(long_name, "x");
    CHECK(fs::file_size(long_name) == 1);
    CHECK(code_of([&] { classify_output((dir.path / (std::string(300, 'n') + ".wav")).string(), "-o"); }) ==
          ExitCode::output);
}
