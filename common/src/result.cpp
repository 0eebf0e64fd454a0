#include "isolated/result.hpp"

#include <cstring>

namespace isolated {

std::string errno_name(int err) {
    // strerrorname_np is glibc >= 2.32; Debian 12 has 2.36.
    if (const char* n = strerrorname_np(err)) return n;
    return "errno " + std::to_string(err);
}

std::string Error::to_string() const {
    if (errno_value == 0) return message;
    std::string out = message;
    if (!out.empty()) out += ": ";
    out += errno_name(errno_value);
    out += " (";
    out += std::strerror(errno_value);
    out += ")";
    return out;
}

}  // namespace isolated
