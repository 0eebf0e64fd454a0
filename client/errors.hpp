// isoctl's exit codes (documented in `isoctl --help`; scripts rely on them) and the two
// exceptions the verbs use to end with one. run() catches both at the top.
#pragma once

#include <stdexcept>
#include <string>

namespace isoctl {

namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int failed = 1;        ///< daemon error, app failed, validation failed, reload rejected files
inline constexpr int usage = 2;         ///< bad command line (also: verb not yet available)
inline constexpr int unreachable = 3;   ///< cannot reach the daemon
inline constexpr int no_such_app = 4;
inline constexpr int interrupted = 130; ///< Ctrl-C, as shells report SIGINT
}  // namespace exit_code

/// The operation failed: run() prints "isoctl: <what>" (nothing when empty) to stderr
/// and exits with code().
class Failure : public std::runtime_error {
public:
    Failure(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
    int code() const { return code_; }

private:
    int code_;
};

/// A bad command line: run() prints the message plus where to find help, exits 2.
class UsageError : public std::runtime_error {
public:
    explicit UsageError(const std::string& message, std::string verb = {})
        : std::runtime_error(message), verb_(std::move(verb)) {}
    const std::string& verb() const { return verb_; }

private:
    std::string verb_;
};

}  // namespace isoctl
