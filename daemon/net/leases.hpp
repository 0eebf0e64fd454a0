// Address leases over the bridge subnet: sticky per app name (an app keeps its address
// across restarts and daemon restarts), optionally pinned (`network.address`), persisted
// atomically as JSON (<state-dir>/leases.json). Addresses pinned by other defined apps
// can be reserved so the pool never hands them out first.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "isolated/result.hpp"
#include "net/ipv4.hpp"

namespace isolated::net {

class Leases {
public:
    /// `path` empty: kept in memory only.
    Leases(Subnet subnet, std::string path);

    /// Reads `path` (a missing file is an empty pool). Leases outside `subnet` (the
    /// daemon was restarted with another --subnet) or on a reserved address of the
    /// subnet are dropped. A file that cannot be opened or read is an error naming it;
    /// one that is damaged (not JSON, not the expected shape, over 16 MiB) is set aside
    /// as PATH.bad with a `warning`, and the pool starts empty: the leases of apps still
    /// running come back from their instance records at the daemon's reconcile.
    static Result<Leases> load(Subnet subnet, std::string path, std::string* warning = nullptr);

    /// The app's address: its pinned one (validated: in the subnet, not the network,
    /// gateway or broadcast address, not leased to another app), else its existing
    /// lease, else the lowest free address. Saves when something changed.
    Result<Ipv4> acquire(const std::string& app, std::optional<Ipv4> pinned = std::nullopt);
    /// Forgets the app's lease (app removed). Saves when something changed.
    Status release(const std::string& app);
    /// Releases every lease whose app is not in `apps`. Saves when something changed.
    Status retain_only(const std::set<std::string>& apps);
    /// Addresses pinned by defined apps: never handed out by the pool to others.
    void set_reserved(std::set<Ipv4> addresses) { reserved_ = std::move(addresses); }

    std::optional<Ipv4> find(const std::string& app) const;
    std::optional<std::string> holder(Ipv4 address) const;
    const std::map<std::string, Ipv4>& all() const { return leases_; }
    const Subnet& subnet() const { return subnet_; }

    /// The JSON document written to disk.
    std::string serialize() const;
    /// Writes to a temp file in the same directory, fsyncs, renames over `path`.
    Status save() const;

private:
    Subnet subnet_;
    std::string path_;
    std::map<std::string, Ipv4> leases_;
    std::set<Ipv4> reserved_;
};

}  // namespace isolated::net
