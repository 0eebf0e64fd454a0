#include "net/leases.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "isolated/unique_fd.hpp"

namespace isolated::net {

Leases::Leases(Subnet subnet, std::string path) : subnet_(subnet), path_(std::move(path)) {}

Result<Leases> Leases::load(Subnet subnet, std::string path) {
    Leases leases(subnet, path);
    std::ifstream in(path);
    if (!in) {
        if (errno == ENOENT) return leases;
        return os_error("open \"" + path + "\"");
    }
    std::stringstream buf;
    buf << in.rdbuf();
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(buf.str());
    } catch (const std::exception& e) {
        return Error::msg("leases file \"" + path + "\": not JSON: " + e.what());
    }
    if (!doc.is_object() || !doc.contains("leases") || !doc["leases"].is_object())
        return Error::msg("leases file \"" + path + "\": expected {\"leases\": {APP: ADDRESS}}");
    std::set<Ipv4> seen;
    for (auto& [app, value] : doc["leases"].items()) {
        if (!value.is_string()) continue;
        auto a = Ipv4::parse(value.get<std::string>());
        if (!a || !subnet.assignable(*a) || !seen.insert(*a).second) continue;
        leases.leases_[app] = *a;
    }
    return leases;
}

Result<Ipv4> Leases::acquire(const std::string& app, std::optional<Ipv4> pinned) {
    auto current = find(app);
    if (pinned) {
        if (!subnet_.contains(*pinned))
            return Error::msg("network.address " + pinned->to_string() + " is outside the subnet " +
                              subnet_.to_string());
        if (*pinned == subnet_.network || *pinned == subnet_.broadcast())
            return Error::msg("network.address " + pinned->to_string() + " is the network or broadcast address of " +
                              subnet_.to_string());
        if (*pinned == subnet_.gateway())
            return Error::msg("network.address " + pinned->to_string() + " is the bridge's gateway address");
        if (auto other = holder(*pinned); other && *other != app)
            return Error::msg("network.address " + pinned->to_string() + " is already leased to app \"" + *other +
                              "\"");
        if (current == pinned) return *pinned;
        leases_[app] = *pinned;
    } else {
        if (current) return *current;
        std::set<Ipv4> taken = reserved_;
        for (auto& [_, a] : leases_) taken.insert(a);
        std::optional<Ipv4> free;
        for (std::uint32_t v = subnet_.gateway().value + 1; v < subnet_.broadcast().value; ++v) {
            if (!taken.count(Ipv4{v})) {
                free = Ipv4{v};
                break;
            }
        }
        if (!free)
            return Error::msg("no free address left in " + subnet_.to_string() + " for app \"" + app + "\" (" +
                              std::to_string(leases_.size()) + " leased)");
        leases_[app] = *free;
    }
    if (auto st = save(); !st) {
        // Keep memory and disk in agreement: an address we could not persist is not leased.
        if (current) leases_[app] = *current; else leases_.erase(app);
        return st.error();
    }
    return leases_[app];
}

Status Leases::release(const std::string& app) {
    if (!leases_.erase(app)) return {};
    return save();
}

Status Leases::retain_only(const std::set<std::string>& apps) {
    bool changed = false;
    for (auto it = leases_.begin(); it != leases_.end();) {
        if (apps.count(it->first)) {
            ++it;
        } else {
            it = leases_.erase(it);
            changed = true;
        }
    }
    return changed ? save() : Status{};
}

std::optional<Ipv4> Leases::find(const std::string& app) const {
    auto it = leases_.find(app);
    if (it == leases_.end()) return std::nullopt;
    return it->second;
}

std::optional<std::string> Leases::holder(Ipv4 address) const {
    for (auto& [app, a] : leases_)
        if (a == address) return app;
    return std::nullopt;
}

std::string Leases::serialize() const {
    nlohmann::json doc;
    doc["subnet"] = subnet_.to_string();
    doc["leases"] = nlohmann::json::object();
    for (auto& [app, a] : leases_) doc["leases"][app] = a.to_string();
    return doc.dump(2) + "\n";
}

Status Leases::save() const {
    if (path_.empty()) return {};
    return write_file_atomically(path_, serialize());
}

Status write_file_atomically(const std::string& path, const std::string& content) {
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    std::string tmp = path + ".tmp";
    unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) return os_error("create \"" + tmp + "\"");
    std::string_view rest = content;
    while (!rest.empty()) {
        ssize_t n = ::write(fd.get(), rest.data(), rest.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            auto err = os_error("write \"" + tmp + "\"");
            ::unlink(tmp.c_str());
            return err;
        }
        rest.remove_prefix(static_cast<size_t>(n));
    }
    if (::fsync(fd.get()) != 0) {
        auto err = os_error("fsync \"" + tmp + "\"");
        ::unlink(tmp.c_str());
        return err;
    }
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        auto err = os_error("rename \"" + tmp + "\" to \"" + path + "\"");
        ::unlink(tmp.c_str());
        return err;
    }
    // The rename is durable only once the directory entry is.
    unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd) (void)::fsync(dfd.get());
    return {};
}

}  // namespace isolated::net
