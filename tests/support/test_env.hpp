// Helpers shared by the test tiers.
#pragma once

#include <string>

namespace isolated::test {

/// Skips the current test (exit code 77, which ctest reports as "Skipped") when
/// `ok` is false -- unless ISOLATED_REQUIRE_ALL=1 (set by .ci/run), where a missing
/// prerequisite is a failure. Call it before creating anything that needs cleanup.
void require_prerequisite(bool ok, const std::string& why);

/// True when running as root.
bool is_root();

/// A fresh directory under $TMPDIR (or /tmp), removed recursively by the destructor.
class TempDir {
public:
    explicit TempDir(const std::string& prefix = "isolated-test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    /// path() + "/" + rel
    std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

private:
    std::string path_;
};

/// Writes `content` to `path` (creating or truncating it).
void write_file(const std::string& path, const std::string& content);
/// The whole file, or "" if it cannot be read.
std::string read_file(const std::string& path);

}  // namespace isolated::test
