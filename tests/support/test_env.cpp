#include "support/test_env.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace isolated::test {

void require_prerequisite(bool ok, const std::string& why) {
    if (ok) return;
    const char* all = std::getenv("ISOLATED_REQUIRE_ALL");
    if (all && std::string(all) == "1") {
        std::fprintf(stderr, "FAIL: prerequisite missing and ISOLATED_REQUIRE_ALL=1: %s\n", why.c_str());
        std::fflush(stderr);
        std::_Exit(1);
    }
    std::fprintf(stderr, "SKIPPED: %s\n", why.c_str());
    std::fflush(stderr);
    std::_Exit(77);
}

bool is_root() { return geteuid() == 0; }

TempDir::TempDir(const std::string& prefix) {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/" + prefix + ".XXXXXX";
    if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp " + templ + " failed");
    path_ = templ;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& content) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error("cannot write " + path);
    f << content;
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace isolated::test
