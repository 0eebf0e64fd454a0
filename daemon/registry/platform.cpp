#include "registry/platform.hpp"

#include <cctype>
#include <string_view>

#include "sys/file.hpp"

namespace isolated::registry {

namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

/// "v7" -> 7; -1 when not of that form.
int variant_number(const std::string& v) {
    if (v.size() < 2 || v[0] != 'v') return -1;
    int n = 0;
    for (std::size_t i = 1; i < v.size(); ++i) {
        if (!std::isdigit(static_cast<unsigned char>(v[i])) || i > 3) return -1;
        n = n * 10 + (v[i] - '0');
    }
    return n;
}

}  // namespace

PlatformSpec normalize(PlatformSpec p) {
    p.os = lower(p.os);
    p.architecture = lower(p.architecture);
    p.variant = lower(p.variant);
    const std::string& a = p.architecture;
    if (a == "i386") {
        p.architecture = "386";
        p.variant.clear();
    } else if (a == "x86_64" || a == "x86-64" || a == "amd64") {
        p.architecture = "amd64";
        if (p.variant == "v1") p.variant.clear();
    } else if (a == "aarch64" || a == "arm64") {
        p.architecture = "arm64";
        if (p.variant == "8" || p.variant == "v8") p.variant.clear();
    } else if (a == "armhf") {
        p.architecture = "arm";
        p.variant = "v7";
    } else if (a == "armel") {
        p.architecture = "arm";
        p.variant = "v6";
    } else if (a == "arm") {
        if (p.variant.empty() || p.variant == "7") p.variant = "v7";
        else if (p.variant == "5" || p.variant == "6" || p.variant == "8") p.variant = "v" + p.variant;
    }
    return p;
}

PlatformSpec host_platform() {
    PlatformSpec p{"linux", image::host_architecture(), ""};
    if (p.architecture == "arm") {
        // containerd reads the variant from the kernel's view of the CPU.
        auto info = sys::read_file("/proc/cpuinfo");
        if (info) {
            auto at = info->find("CPU architecture");
            if (at != std::string::npos) {
                auto colon = info->find(':', at);
                std::size_t i = colon == std::string::npos ? info->size() : colon + 1;
                while (i < info->size() && (*info)[i] == ' ') ++i;
                if (i < info->size() && std::isdigit(static_cast<unsigned char>((*info)[i])))
                    p.variant = std::string("v") + (*info)[i];
            }
        }
        if (p.variant.empty() || p.variant == "v8") p.variant = "v7";  // a 32-bit arm build on a v8 CPU runs v7
    }
    return normalize(p);
}

std::vector<PlatformSpec> compatible_platforms(const PlatformSpec& w) {
    PlatformSpec want = normalize(w);
    std::vector<PlatformSpec> out{want};
    auto arm_down_from = [&](int n) {
        for (; n >= 5; --n) out.push_back(PlatformSpec{want.os, "arm", "v" + std::to_string(n)});
    };
    if (want.architecture == "amd64") {
        int n = want.variant.empty() ? 1 : variant_number(want.variant);
        for (--n; n >= 2; --n) out.push_back(PlatformSpec{want.os, "amd64", "v" + std::to_string(n)});
        if (!want.variant.empty()) out.push_back(PlatformSpec{want.os, "amd64", ""});
        out.push_back(PlatformSpec{want.os, "386", ""});
    } else if (want.architecture == "arm") {
        arm_down_from(variant_number(want.variant) - 1);
    } else if (want.architecture == "arm64") {
        arm_down_from(8);
    }
    return out;
}

Result<image::Descriptor> pick_manifest(const image::Index& index, const PlatformSpec& want, const std::string& what) {
    if (index.manifests.empty()) return Error::msg(what + ": the index lists no manifests");
    for (const auto& candidate : compatible_platforms(want))
        for (const auto& d : index.manifests) {
            if (!d.platform) continue;
            PlatformSpec p = normalize({d.platform->os, d.platform->architecture, d.platform->variant});
            if (p == candidate) return d;
        }
    if (index.manifests.size() == 1 && !index.manifests[0].platform) return index.manifests[0];
    std::string have;
    for (const auto& d : index.manifests) {
        have += have.empty() ? "" : ", ";
        have += d.platform ? PlatformSpec{d.platform->os, d.platform->architecture, d.platform->variant}.str()
                           : "(no platform)";
    }
    return Error::os(ENOENT, what + ": no manifest for " + normalize(want).str() + " (it has: " + have + ")");
}

}  // namespace isolated::registry
