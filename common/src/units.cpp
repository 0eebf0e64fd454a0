#include "isolated/units.hpp"

#include <signal.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <limits>

#include "text_hints.hpp"

namespace isolated {
namespace {

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

std::optional<std::uint64_t> to_u64(std::string_view s) {
    if (!all_digits(s)) return std::nullopt;
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

bool mul_overflows(std::uint64_t a, std::uint64_t b) {
    return b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b;
}

struct SignalName {
    int number;
    const char* name;
};

// Signals an app may reasonably be asked to stop with, plus the ones we report.
constexpr std::array<SignalName, 31> kSignals{{
    {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},       {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
    {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"},     {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
    {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"},     {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
    {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"},     {SIGTERM, "SIGTERM"}, {SIGSTKFLT, "SIGSTKFLT"},
    {SIGCHLD, "SIGCHLD"}, {SIGCONT, "SIGCONT"},     {SIGSTOP, "SIGSTOP"}, {SIGTSTP, "SIGTSTP"},
    {SIGTTIN, "SIGTTIN"}, {SIGTTOU, "SIGTTOU"},     {SIGURG, "SIGURG"},   {SIGXCPU, "SIGXCPU"},
    {SIGXFSZ, "SIGXFSZ"}, {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGWINCH, "SIGWINCH"},
    {SIGIO, "SIGIO"},     {SIGPWR, "SIGPWR"},       {SIGSYS, "SIGSYS"},
}};

}  // namespace

std::optional<Duration> parse_duration(std::string_view s) {
    if (s.empty()) return std::nullopt;
    std::uint64_t total_ms = 0;
    while (!s.empty()) {
        size_t i = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        if (i == 0) return std::nullopt;
        auto n = to_u64(s.substr(0, i));
        if (!n) return std::nullopt;
        s.remove_prefix(i);
        std::uint64_t unit_ms;
        if (s.starts_with("ms")) {
            unit_ms = 1;
            s.remove_prefix(2);
        } else if (s.starts_with("s")) {
            unit_ms = 1000;
            s.remove_prefix(1);
        } else if (s.starts_with("m")) {
            unit_ms = 60'000;
            s.remove_prefix(1);
        } else if (s.starts_with("h")) {
            unit_ms = 3'600'000;
            s.remove_prefix(1);
        } else if (s.starts_with("d")) {
            unit_ms = 86'400'000;
            s.remove_prefix(1);
        } else {
            return std::nullopt;
        }
        if (mul_overflows(*n, unit_ms)) return std::nullopt;
        std::uint64_t part = *n * unit_ms;
        if (part > std::numeric_limits<std::int64_t>::max() - total_ms) return std::nullopt;
        total_ms += part;
    }
    return Duration(static_cast<std::int64_t>(total_ms));
}

std::string format_duration(Duration d) {
    auto ms = d.count();
    if (ms == 0) return "0s";
    const char* sign = ms < 0 ? "-" : "";
    std::uint64_t v = ms < 0 ? static_cast<std::uint64_t>(-ms) : static_cast<std::uint64_t>(ms);
    if (v % 3'600'000 == 0) return sign + std::to_string(v / 3'600'000) + "h";
    if (v % 60'000 == 0) return sign + std::to_string(v / 60'000) + "m";
    if (v % 1000 == 0) return sign + std::to_string(v / 1000) + "s";
    return sign + std::to_string(v) + "ms";
}

std::optional<std::uint64_t> parse_size(std::string_view s) {
    size_t i = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    auto n = to_u64(s.substr(0, i));
    if (!n) return std::nullopt;
    std::string_view suffix = s.substr(i);
    std::uint64_t mult = 1;
    if (!suffix.empty()) {
        switch (suffix[0]) {
            case 'K': case 'k': mult = 1ULL << 10; break;
            case 'M': mult = 1ULL << 20; break;
            case 'G': mult = 1ULL << 30; break;
            case 'T': mult = 1ULL << 40; break;
            case 'B': mult = 1; break;
            default: return std::nullopt;
        }
        std::string_view rest = suffix.substr(1);
        if (suffix[0] == 'B') {
            if (!rest.empty()) return std::nullopt;
        } else if (!(rest.empty() || rest == "B" || rest == "i" || rest == "iB")) {  // "i": Kubernetes' "512Mi"
            return std::nullopt;
        }
    }
    if (mul_overflows(*n, mult)) return std::nullopt;
    return *n * mult;
}

std::string format_size(std::uint64_t bytes) {
    static constexpr std::array<std::pair<std::uint64_t, const char*>, 4> units{{
        {1ULL << 40, "T"}, {1ULL << 30, "G"}, {1ULL << 20, "M"}, {1ULL << 10, "K"}}};
    if (bytes == 0) return "0";
    for (auto [u, name] : units)
        if (bytes % u == 0) return std::to_string(bytes / u) + name;
    return std::to_string(bytes);
}

std::optional<double> parse_cpu_percent(std::string_view s) {
    if (s.size() < 2 || s.back() != '%') return std::nullopt;
    std::string_view num = s.substr(0, s.size() - 1);
    double v = 0;
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
    if (ec != std::errc() || p != num.data() + num.size() || !std::isfinite(v) || v <= 0) return std::nullopt;
    return v / 100.0;
}

std::optional<int> parse_signal(std::string_view s) {
    if (all_digits(s)) {
        auto n = to_u64(s);
        if (!n || *n == 0 || *n > 64) return std::nullopt;
        return static_cast<int>(*n);
    }
    std::string name(s);
    if (!name.starts_with("SIG")) name = "SIG" + name;
    for (auto& e : kSignals)
        if (name == e.name) return e.number;
    return std::nullopt;
}

std::string signal_name(int sig) {
    for (auto& e : kSignals)
        if (e.number == sig) return e.name;
    return "SIG" + std::to_string(sig);
}

std::string signal_error(std::string_view text) {
    std::string upper;
    for (char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string msg = detail::quote(text) + " is not a signal";
    if (parse_signal(upper)) return msg + " (did you mean \"" + upper + "\"?)";
    return msg + " (use a name such as \"SIGTERM\" or \"TERM\", or a number)";
}

std::string format_rfc3339(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    int frac = static_cast<int>(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        --secs;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    // Room for any int in every field (7 x 11 characters, separators, NUL), not just for
    // the 24 of a real date: gcc's -Wformat-truncation only knows the types.
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return buf;
}

}  // namespace isolated
