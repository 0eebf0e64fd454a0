#include "cgroup/limits.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace isolated::cgroup {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
    return s;
}

}  // namespace

std::uint64_t cpu_quota_us(double cores, std::uint64_t period_us) {
    double q = std::llround(cores * static_cast<double>(period_us));
    return std::max<std::uint64_t>(1000, static_cast<std::uint64_t>(std::max(0.0, q)));
}

std::string v2_cpu_max(double cores) {
    return std::to_string(cpu_quota_us(cores)) + " " + std::to_string(kCpuPeriodUs);
}

std::optional<double> parse_v2_cpu_max(std::string_view text) {
    text = trim(text);
    auto sp = text.find(' ');
    if (sp == std::string_view::npos) return std::nullopt;
    auto q = parse_u64(text.substr(0, sp));
    auto p = parse_u64(text.substr(sp + 1));
    if (!q || !p || *p == 0) return std::nullopt;
    return static_cast<double>(*q) / static_cast<double>(*p);
}

std::uint64_t weight_to_shares(std::uint32_t weight) {
    // systemd: CLAMP(weight * CGROUP_CPU_SHARES_DEFAULT / CGROUP_WEIGHT_DEFAULT, 2, 262144)
    std::uint64_t s = static_cast<std::uint64_t>(weight) * 1024 / 100;
    return std::clamp<std::uint64_t>(s, 2, 262144);
}

std::uint32_t shares_to_weight(std::uint64_t shares) {
    std::uint64_t w = shares * 100 / 1024;
    return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(w, 1, 10000));
}

std::string v2_limit(std::optional<std::uint64_t> v) { return v ? std::to_string(*v) : std::string("max"); }

std::optional<std::uint64_t> parse_v2_limit(std::string_view text) {
    if (trim(text) == "max") return std::nullopt;
    return parse_u64(text);
}

std::optional<std::uint64_t> parse_v1_limit(std::string_view text) {
    auto v = parse_u64(text);
    if (!v || *v >= (std::uint64_t(1) << 62)) return std::nullopt;
    return v;
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
    text = trim(text);
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || text.empty()) return std::nullopt;
    return v;
}

std::optional<std::int64_t> parse_i64(std::string_view text) {
    text = trim(text);
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || text.empty()) return std::nullopt;
    return v;
}

std::map<std::string, std::uint64_t> parse_flat_keyed(std::string_view text) {
    std::map<std::string, std::uint64_t> out;
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        line = trim(line);
        auto sp = line.find(' ');
        if (sp == std::string_view::npos) continue;
        if (auto v = parse_u64(line.substr(sp + 1))) out[std::string(line.substr(0, sp))] = *v;
    }
    return out;
}

std::uint64_t working_set(std::uint64_t usage, std::uint64_t inactive_file) {
    return inactive_file >= usage ? 0 : usage - inactive_file;
}

}  // namespace isolated::cgroup
