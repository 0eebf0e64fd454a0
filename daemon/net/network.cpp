#include "net/network.hpp"

#include <algorithm>

#include "net/discovery.hpp"
#include "net/ports.hpp"
#include "sys/crash_point.hpp"

namespace isolated::net {

Result<std::optional<Ipv4>> parse_pinned_address(const std::string& text) {
    if (text.empty()) return std::optional<Ipv4>{};
    auto a = Ipv4::parse(text);
    if (!a) return Error::msg("network.address \"" + text + "\" is not an IPv4 address");
    return std::optional<Ipv4>(*a);
}

Result<std::vector<Forward>> forwards_for(const std::string& app, Ipv4 app_address,
                                          const std::vector<PortSpec>& ports) {
    std::vector<Forward> out;
    for (auto& p : ports) {
        Forward f;
        f.app = app;
        f.protocol = p.protocol;
        f.host_port = p.host;
        f.app_address = app_address;
        f.app_port = p.app ? p.app : p.host;
        if (!p.host_address.empty()) {
            auto a = Ipv4::parse(p.host_address);
            if (!a) return Error::msg("ports: hostAddress \"" + p.host_address + "\" is not an IPv4 address");
            if (a->value != 0) f.host_address = *a;
        }
        if (f.host_port == 0 || f.app_port == 0) return Error::msg("ports: port 0 cannot be forwarded");
        out.push_back(f);
    }
    return out;
}

Network::Network(NetworkConfig config, Leases leases, NlSocket sock, NftContext nft)
    : config_(std::move(config)),
      ruleset_{config_.table, config_.bridge, config_.subnet},
      leases_(std::move(leases)),
      sock_(std::move(sock)),
      nft_(std::move(nft)) {}

Result<std::unique_ptr<Network>> Network::open(NetworkConfig config, std::string* warning) {
    if (config.bridge.empty() || config.bridge.size() > 15 ||
        config.bridge.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
            std::string::npos)
        return Error::msg("bridge name \"" + config.bridge + "\": 1 to 15 of [A-Za-z0-9_.-]");
    std::string path = config.state_dir.empty() ? "" : config.state_dir + "/leases.json";
    auto leases = path.empty() ? Result<Leases>(Leases(config.subnet, "")) : Leases::load(config.subnet, path, warning);
    if (!leases) return leases.error();
    auto sock = open_route_socket();
    if (!sock) return sock.error();
    auto nft = NftContext::create();
    if (!nft) return nft.error();
    return std::unique_ptr<Network>(
        new Network(std::move(config), std::move(*leases), std::move(*sock), std::move(*nft)));
}

Status Network::run_nft(const std::string& commands) {
    auto r = nft_.run(commands);
    if (!r) return r.error();
    return {};
}

Result<TableListing> Network::read_table() {
    auto tables = nft_.run("list tables ip\n", true);
    if (!tables) return tables.error();
    auto t = parse_table_listing(*tables, config_.table);
    if (!t) return t.error();
    if (!t->exists) {
        forwards_.clear();
        return TableListing{};
    }
    auto out = nft_.run("list table ip " + config_.table + "\n", true);
    if (!out) return out.error();
    auto listing = parse_table_listing(*out, config_.table);
    if (!listing) return listing.error();
    forwards_ = listing->forwards;
    return listing;
}

Status Network::start() {
    auto br = ensure_bridge(sock_.get(), config_.bridge, config_.subnet.gateway(), config_.subnet.prefix);
    if (!br) return br.error();
    if (auto st = write_sysctl("net/ipv4/ip_forward", "1"); !st) return st;
    // Locally generated packets to 127.0.0.1 DNAT'ed to an app leave through the bridge
    // with a 127/8 source, which the kernel drops as martian unless route_localnet is set
    // on the outgoing device; postrouting then masquerades them to the gateway address.
    if (auto st = write_sysctl("net/ipv4/conf/" + config_.bridge + "/route_localnet", "1"); !st) return st;

    auto listing = read_table();
    if (!listing) return listing.error();
    std::vector<Forward> keep;
    for (auto& f : listing->forwards)
        if (!f.app.empty() && config_.subnet.assignable(f.app_address)) keep.push_back(f);
    if (auto st = run_nft(render_table(ruleset_, keep)); !st) return st;
    wanted_.clear();
    for (auto& f : keep) wanted_[f.app].push_back(f);
    auto fresh = read_table();
    if (!fresh) return fresh.error();
    table_rules_ = fresh->rules;
    return {};
}

Result<Ipv4> Network::lease(const std::string& app, std::optional<Ipv4> pinned) {
    return leases_.acquire(app, pinned);
}

std::vector<Forward> Network::forwards_of(const std::string& app) const {
    std::vector<Forward> out;
    for (auto& f : forwards_)
        if (f.app == app) out.push_back(f);
    return out;
}

Status Network::replace_forwards(const std::string& app, const std::vector<Forward>& next) {
    auto attempt = [&]() -> Status {
        auto current = forwards_of(app);
        if (current.empty() && next.empty()) return {};
        // One buffer = one nftables transaction: the app's old elements go and the new
        // ones arrive together, or nothing changes.
        std::string cmds = render_delete_elements(ruleset_, current) + render_add_elements(ruleset_, next);
        if (auto st = run_nft(cmds); !st) return st;
        std::erase_if(forwards_, [&](const Forward& f) { return f.app == app; });
        forwards_.insert(forwards_.end(), next.begin(), next.end());
        return {};
    };
    // What the daemon means the table to hold changes whether or not the kernel took
    // it: an app whose forwards could not be removed is not running any more, and one
    // whose forwards could not be added does not start; repair() rebuilds from this.
    if (next.empty()) wanted_.erase(app);
    else wanted_[app] = next;
    auto st = attempt();
    if (st) return st;
    // Our view may be stale (someone edited the table): re-read it and try once more.
    if (!read_table()) return st;
    return attempt();
}

Status Network::check_ports(const std::string& app, const std::vector<PortSpec>& ports,
                            const std::map<std::string, std::vector<PortSpec>>& other_defined) const {
    if (ports.empty()) return {};
    std::map<std::string, std::vector<PortSpec>> others = other_defined;
    for (auto& f : forwards_) {
        if (f.app == app) continue;
        PortSpec p;
        p.host = f.host_port;
        p.app = f.app_port;
        p.protocol = f.protocol;
        if (f.host_address) p.host_address = f.host_address->to_string();
        others[f.app.empty() ? "(unknown)" : f.app].push_back(p);
    }
    if (auto conflict = find_port_conflict(app, ports, others, {}))
        return Error::msg("app \"" + app + "\": " + *conflict);
    // Host processes: bind probes for a few ports, one pass over /proc/net for many.
    std::vector<Listener> listeners;
    if (ports.size() > 16) {
        auto all = read_host_listeners();
        if (!all) return all.error();
        listeners = std::move(*all);
    } else {
        for (auto& p : ports) {
            PortClaim c = claim_of(p);
            auto used = port_in_use_by_host(c);
            if (!used) return used.error();
            if (*used) listeners.push_back(Listener{c.protocol, c.port, c.address});
        }
    }
    if (auto conflict = find_port_conflict(app, ports, {}, listeners))
        return Error::msg("app \"" + app + "\": " + *conflict);
    return {};
}

Result<Attachment> Network::attach_app(const std::string& app, const NetnsRef& netns, std::optional<Ipv4> pinned,
                                       const std::vector<PortSpec>& ports) {
    auto address = leases_.acquire(app, pinned);
    if (!address) return Error::msg("app \"" + app + "\": " + address.error().to_string());
    if (auto st = check_ports(app, ports); !st) return st.error();
    auto fwd = forwards_for(app, *address, ports);
    if (!fwd) return Error::msg("app \"" + app + "\": " + fwd.error().to_string());
    sys::crash_point("launch.before-nft");
    if (auto st = replace_forwards(app, *fwd); !st)
        return Error::msg("app \"" + app + "\": port forwards: " + st.error().to_string());
    sys::crash_point("launch.after-nft");

    VethRequest rq;
    rq.host_name = veth_name_for(app);
    rq.bridge = config_.bridge;
    rq.address = *address;
    rq.prefix = config_.subnet.prefix;
    rq.gateway = config_.subnet.gateway();
    if (auto st = setup_veth(sock_.get(), netns, rq); !st) {
        (void)replace_forwards(app, {});
        Error e = st.error();
        e.message = "app \"" + app + "\": " + e.message;
        return e;
    }
    return Attachment{*address, rq.host_name};
}

Status Network::check_kept(const std::string& app, const NetnsRef& netns, Ipv4 address) {
    const std::string veth = veth_name_for(app);
    auto host = find_link(sock_.get(), veth);
    if (!host) return host.error();
    if (!*host || (*host)->type != "veth") return Error::msg("its veth " + veth + " is gone");
    auto inside = open_in_netns(netns);
    if (!inside) return inside.error();
    auto eth0 = find_link(inside->sock.get(), "eth0");
    if (!eth0) return eth0.error();
    if (!*eth0) return Error::msg("it has no eth0");
    auto has = has_address(inside->sock.get(), (*eth0)->index, address, config_.subnet.prefix);
    if (!has) return has.error();
    if (!*has) return Error::msg("its eth0 does not have " + address.to_string() + " any more");
    if (!(*eth0)->up) return Error::msg("its eth0 is down");
    return {};
}

Status Network::detach_app(const std::string& app) { return replace_forwards(app, {}); }

Status Network::remove_app(const std::string& app) {
    auto st = detach_app(app);
    auto rel = leases_.release(app);
    return st ? rel : st;
}

Status Network::reconcile(const std::map<std::string, std::optional<Ipv4>>& bridged_apps,
                          const std::set<std::string>& running) {
    std::vector<std::string> errors;
    auto note = [&](const Status& st) {
        if (!st) errors.push_back(st.error().to_string());
    };

    // Leases: defined bridged apps keep theirs; pinned ones first so that the pool never
    // hands a pinned address to someone else.
    std::set<std::string> names;
    std::set<Ipv4> reserved;
    for (auto& [name, pinned] : bridged_apps) {
        names.insert(name);
        if (pinned) reserved.insert(*pinned);
    }
    note(leases_.retain_only(names));
    leases_.set_reserved(reserved);
    for (int pass = 0; pass < 2; ++pass)
        for (auto& [name, pinned] : bridged_apps) {
            if (pinned.has_value() != (pass == 0)) continue;
            auto a = leases_.acquire(name, pinned);
            if (!a) errors.push_back("app \"" + name + "\": " + a.error().to_string());
        }

    // Forward elements: only running apps keep theirs, in one transaction.
    if (auto listing = read_table(); !listing) {
        note(listing.error());
    } else {
        std::vector<Forward> stale;
        for (auto& f : forwards_)
            if (!running.count(f.app)) stale.push_back(f);
        if (!stale.empty()) {
            auto st = run_nft(render_delete_elements(ruleset_, stale));
            note(st);
            if (st)
                std::erase_if(forwards_, [&](const Forward& f) { return !running.count(f.app); });
        }
    }
    std::erase_if(wanted_, [&](const auto& kv) { return !running.count(kv.first); });

    // Host-side veths on our bridge whose app is not running (an app still running keeps
    // its veth; a stopped app's veth normally went with its netns).
    std::set<std::string> wanted;
    for (auto& name : running) wanted.insert(veth_name_for(name));
    auto bridge = find_link(sock_.get(), config_.bridge);
    auto links = list_links(sock_.get());
    if (!bridge) {
        note(bridge.error());
    } else if (!links) {
        note(links.error());
    } else if (*bridge) {
        for (auto& l : *links) {
            if (l.type != "veth" || l.master != (*bridge)->index || l.name.rfind("veth-", 0) != 0) continue;
            if (!wanted.count(l.name)) note(delete_link(sock_.get(), l.name));
        }
    }

    if (errors.empty()) return {};
    std::string msg = "network reconcile: ";
    for (std::size_t i = 0; i < errors.size(); ++i) msg += (i ? "; " : "") + errors[i];
    return Error::msg(msg);
}

Result<std::vector<std::string>> Network::repair(const std::set<std::string>& running) {
    std::vector<std::string> repaired;
    std::optional<Error> first_error;
    auto note = [&](const Error& e) {
        if (!first_error) first_error = e;
    };
    // What was repaired, or the first thing that could not be checked or put back.
    auto outcome = [&]() -> Result<std::vector<std::string>> {
        if (!first_error) return repaired;
        Error e = *first_error;
        e.message = "network repair: " + e.message;
        return e;
    };

    // The bridge: there, with the gateway address, up.
    auto br = find_link(sock_.get(), config_.bridge);
    if (!br) return br.error();
    bool bridge_new = !*br;
    if (*br && (*br)->type != "bridge") return Error::msg("\"" + config_.bridge + "\" exists and is not a bridge");
    if (*br && !bridge_new) {
        auto has = has_address(sock_.get(), (*br)->index, config_.subnet.gateway(), config_.subnet.prefix);
        if (!has) return has.error();
        if (!*has || !(*br)->up)
            repaired.push_back(std::string("bridge \"") + config_.bridge + "\": " +
                               (!*has ? "gateway address " + config_.subnet.gateway().to_string() + " restored" : "") +
                               (!*has && !(*br)->up ? ", " : "") + (!(*br)->up ? "set up again" : ""));
    } else {
        repaired.push_back("bridge \"" + config_.bridge + "\" was missing: created again");
    }
    auto index = ensure_bridge(sock_.get(), config_.bridge, config_.subnet.gateway(), config_.subnet.prefix);
    if (!index) return index.error();
    // A new device has the defaults: route_localnet (localhost forwards) again.
    auto rl = read_sysctl("net/ipv4/conf/" + config_.bridge + "/route_localnet");
    if (!rl || *rl != "1") {
        if (auto st = write_sysctl("net/ipv4/conf/" + config_.bridge + "/route_localnet", "1"); !st) note(st.error());
        else if (!bridge_new) repaired.push_back("route_localnet on \"" + config_.bridge + "\" set again");
    }
    if (auto fw = read_sysctl("net/ipv4/ip_forward"); !fw || *fw != "1") {
        if (auto st = write_sysctl("net/ipv4/ip_forward", "1"); !st) note(st.error());
        else repaired.push_back("net.ipv4.ip_forward set to 1 again");
    }

    // The running apps' host ends on the bridge (a deleted bridge releases its ports;
    // the veths themselves live on with their peers in the apps' namespaces).
    if (auto links = list_links(sock_.get()); !links) {
        note(links.error());
    } else {
        std::map<std::string, const LinkInfo*> by_name;
        for (auto& l : *links) by_name[l.name] = &l;
        std::vector<std::string> reattached;
        for (auto& app : running) {
            auto it = by_name.find(veth_name_for(app));
            if (it == by_name.end() || it->second->type != "veth" || it->second->master == *index) continue;
            if (auto st = attach_to_bridge(sock_.get(), it->second->index, *index, it->first); !st) {
                note(st.error());
                continue;
            }
            if (!it->second->up)
                if (auto st = set_link_up(sock_.get(), it->second->index, it->first); !st) note(st.error());
            reattached.push_back(it->first);
        }
        if (!reattached.empty()) {
            std::string list;
            for (auto& n : reattached) list += (list.empty() ? "" : ", ") + n;
            repaired.push_back("veth" + std::string(reattached.size() > 1 ? "s " : " ") + list +
                               " attached to the bridge again");
        }
    }

    // The table: what the daemon put there, nothing else. wanted_ is not filtered by
    // `running`: an app between attach_app() and its first status as running has its
    // forwards there already, and one that stopped lost them in detach_app().
    std::vector<Forward> want;
    for (auto& [app, fs] : wanted_) want.insert(want.end(), fs.begin(), fs.end());
    // Listing the table costs ~10 ms per 1,000 forwards (JSON out of libnftables and
    // back): with many, its contents are compared every 12th check (a minute) and only
    // its existence in between.
    if (want.size() > kRepairListEvery && ++repair_checks_ % 12 != 0) {
        auto tables = nft_.run("list tables ip\n", true);
        if (!tables) {
            note(tables.error());
        } else if (auto t = parse_table_listing(*tables, config_.table); t && t->exists) {
            return outcome();
        }
    }
    auto listing = read_table();
    if (!listing) {
        note(listing.error());
    } else {
        std::string why;
        if (!listing->exists) {
            why = "was missing";
        } else if (table_rules_ && listing->rules != table_rules_) {
            why = "had " + std::to_string(listing->rules) + " rules instead of " + std::to_string(table_rules_);
        } else {
            bool same = listing->forwards.size() == want.size();
            for (auto& f : want)
                if (same && std::find(listing->forwards.begin(), listing->forwards.end(), f) == listing->forwards.end())
                    same = false;
            if (!same)
                why = "had " + std::to_string(listing->forwards.size()) + " forwards instead of " +
                      std::to_string(want.size());
        }
        if (!why.empty()) {
            if (auto st = run_nft(render_table(ruleset_, want)); !st) {
                note(st.error());
            } else {
                forwards_ = want;
                repaired.push_back("nftables table \"" + config_.table + "\" " + why + ": rebuilt with " +
                                   std::to_string(want.size()) + " forwards");
                if (!table_rules_)
                    if (auto fresh = read_table()) table_rules_ = fresh->rules;
            }
        }
    }
    return outcome();
}

std::string Network::hosts_file_for(const std::string& app, const std::string& hostname) const {
    return render_hosts(app, hostname, leases_.find(app), leases_.all());
}

Status Network::shutdown_cleanup() {
    std::vector<std::string> errors;
    auto listing = read_table();
    if (!listing) {
        errors.push_back(listing.error().to_string());
    } else if (listing->exists) {
        if (auto st = run_nft(render_delete_table(ruleset_)); !st) errors.push_back(st.error().to_string());
        else forwards_.clear();
        wanted_.clear();
    }
    if (auto st = delete_link(sock_.get(), config_.bridge); !st) errors.push_back(st.error().to_string());
    if (errors.empty()) return {};
    return Error::msg("network cleanup: " + errors[0] + (errors.size() > 1 ? "; " + errors[1] : ""));
}

}  // namespace isolated::net
