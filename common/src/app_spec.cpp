#include "isolated/app_spec.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace isolated {
namespace {

template <typename Enum, size_t N>
std::optional<Enum> lookup(const std::array<std::pair<Enum, const char*>, N>& table, std::string_view word) {
    for (auto& [value, name] : table)
        if (word == name) return value;
    return std::nullopt;
}

template <typename Enum, size_t N>
std::string name_of(const std::array<std::pair<Enum, const char*>, N>& table, Enum value) {
    for (auto& [v, name] : table)
        if (v == value) return name;
    return "unknown";
}

constexpr std::array<std::pair<RootfsType, const char*>, 3> kRootfsTypes{
    {{RootfsType::host, "host"}, {RootfsType::directory, "directory"}, {RootfsType::image, "image"}}};
constexpr std::array<std::pair<RootfsWritable, const char*>, 2> kRootfsWritable{
    {{RootfsWritable::overlay, "overlay"}, {RootfsWritable::readonly, "readonly"}}};
constexpr std::array<std::pair<MountType, const char*>, 2> kMountTypes{
    {{MountType::bind, "bind"}, {MountType::tmpfs, "tmpfs"}}};
constexpr std::array<std::pair<NetworkMode, const char*>, 4> kNetworkModes{{{NetworkMode::bridge, "bridge"},
                                                                            {NetworkMode::host, "host"},
                                                                            {NetworkMode::none, "none"},
                                                                            {NetworkMode::app, "app"}}};
constexpr std::array<std::pair<Protocol, const char*>, 2> kProtocols{{{Protocol::tcp, "tcp"}, {Protocol::udp, "udp"}}};
constexpr std::array<std::pair<NamespaceKind, const char*>, 3> kNamespaceKinds{
    {{NamespaceKind::private_, "private"}, {NamespaceKind::host, "host"}, {NamespaceKind::app, "app"}}};
constexpr std::array<std::pair<RestartPolicy, const char*>, 3> kRestartPolicies{
    {{RestartPolicy::always, "always"}, {RestartPolicy::on_failure, "on-failure"}, {RestartPolicy::never, "never"}}};
constexpr std::array<std::pair<ProbeKind, const char*>, 3> kProbeKinds{
    {{ProbeKind::http, "http"}, {ProbeKind::tcp, "tcp"}, {ProbeKind::exec, "exec"}}};
constexpr std::array<std::pair<SeccompMode, const char*>, 3> kSeccompModes{
    {{SeccompMode::default_, "default"}, {SeccompMode::unconfined, "unconfined"}, {SeccompMode::path, "path"}}};

}  // namespace

std::string to_string(RootfsType v) { return name_of(kRootfsTypes, v); }
std::string to_string(RootfsWritable v) { return name_of(kRootfsWritable, v); }
std::string to_string(MountType v) { return name_of(kMountTypes, v); }
std::string to_string(NetworkMode v) { return name_of(kNetworkModes, v); }
std::string to_string(Protocol v) { return name_of(kProtocols, v); }
std::string to_string(NamespaceKind v) { return name_of(kNamespaceKinds, v); }
std::string to_string(RestartPolicy v) { return name_of(kRestartPolicies, v); }
std::string to_string(ProbeKind v) { return name_of(kProbeKinds, v); }
std::string to_string(SeccompMode v) { return name_of(kSeccompModes, v); }

std::optional<RootfsType> rootfs_type_from_string(std::string_view s) { return lookup(kRootfsTypes, s); }
std::optional<RootfsWritable> rootfs_writable_from_string(std::string_view s) { return lookup(kRootfsWritable, s); }
std::optional<MountType> mount_type_from_string(std::string_view s) { return lookup(kMountTypes, s); }
std::optional<Protocol> protocol_from_string(std::string_view s) { return lookup(kProtocols, s); }
std::optional<RestartPolicy> restart_policy_from_string(std::string_view s) { return lookup(kRestartPolicies, s); }
std::optional<ProbeKind> probe_kind_from_string(std::string_view s) { return lookup(kProbeKinds, s); }

const std::vector<std::string>& capability_names() {
    // include/uapi/linux/capability.h, CAP_CHOWN (0) to CAP_LAST_CAP = CAP_CHECKPOINT_RESTORE (40)
    // since Linux 5.9; unchanged through 6.x.
    static const std::vector<std::string> names{
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    };
    return names;
}

std::optional<std::string> normalize_capability(std::string_view s) {
    std::string upper;
    upper.reserve(s.size() + 4);
    for (char c : s) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "ALL") return upper;
    if (!upper.starts_with("CAP_")) upper = "CAP_" + upper;
    const auto& names = capability_names();
    if (std::find(names.begin(), names.end(), upper) == names.end()) return std::nullopt;
    return upper;
}

bool is_valid_app_name(std::string_view name) {
    if (name.empty() || name.size() > 32) return false;
    auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!lower_or_digit(name[0])) return false;
    return std::all_of(name.begin() + 1, name.end(), [&](char c) { return lower_or_digit(c) || c == '-'; });
}

int SourceLines::line_of(std::string field) const {
    for (;;) {
        if (auto it = by_field.find(field); it != by_field.end()) return it->second;
        if (field.empty()) return 0;
        // "a.b[2]" -> "a.b" -> "a" -> ""
        auto cut = field.find_last_of(".[");
        field.resize(cut == std::string::npos ? 0 : cut);
    }
}

bool AppSpec::same_definition(const AppSpec& o) const {
    AppSpec copy = *this;
    copy.source_file = o.source_file;
    // Whether the daemon starts the app by itself says nothing about the running app:
    // changing it must not restart it.
    copy.autostart = o.autostart;
    // Nor do the daemon's own duties around it: where its output is kept, what runs when it fails.
    copy.logs = o.logs;
    copy.hooks = o.hooks;
    return copy == o;
}

}  // namespace isolated
