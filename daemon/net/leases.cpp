#include "net/leases.hpp"

#include <cerrno>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "sys/file.hpp"

namespace isolated::net {

Leases::Leases(Subnet subnet, std::string path) : subnet_(subnet), path_(std::move(path)) {}

Result<Leases> Leases::load(Subnet subnet, std::string path, std::string* warning) {
    Leases leases(subnet, path);
    constexpr std::size_t max = std::size_t{16} << 20;
    auto text = sys::read_file(path, max);
    if (!text && text.error().errno_value == ENOENT) return leases;
    std::string damage;
    nlohmann::json doc;
    if (!text && text.error().errno_value != 0) return text.error();
    if (!text) {
        damage = text.error().to_string();
    } else {
        doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
        if (doc.is_discarded())
            damage = "not JSON";
        else if (!doc.is_object() || !doc.contains("leases") || !doc["leases"].is_object())
            damage = "expected {\"leases\": {APP: ADDRESS}}";
    }
    if (!damage.empty()) {
        // Written durably by replace (temp + fsync + rename), so damage is a disk fault
        // or a hand edit. Refusing to start over it would take every app down with the
        // daemon; the file is set aside (an operator can still read it), not deleted.
        std::string aside = path + ".bad";
        std::string note = "leases file \"" + path + "\" is damaged (" + damage + ")";
        if (::rename(path.c_str(), aside.c_str()) != 0)
            return Error::os(errno, note + "; cannot move it aside");
        if (warning) *warning = note + ": moved to " + aside + ", the address pool starts empty";
        return leases;
    }
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
    return sys::replace_file_durably(path_, serialize());
}

}  // namespace isolated::net
