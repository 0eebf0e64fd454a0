#include "net/discovery.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "isolated/unique_fd.hpp"

namespace isolated::net {

std::string render_hosts(const std::string& app, const std::string& hostname, std::optional<Ipv4> own_address,
                         const std::map<std::string, Ipv4>& apps) {
    std::string host = hostname.empty() ? app : hostname;
    std::string out;
    out += "# Written by isolated for app \"" + app + "\"; rewritten as apps come and go.\n";
    out += "127.0.0.1\tlocalhost\n";
    out += "::1\tlocalhost ip6-localhost ip6-loopback\n";
    std::string own = host == app ? host : host + " " + app;
    out += (own_address ? own_address->to_string() : std::string("127.0.1.1")) + "\t" + own + "\n";
    for (auto& [name, address] : apps) {
        if (name == app) continue;
        out += address.to_string() + "\t" + name + "\n";
    }
    return out;
}

Status rewrite_in_place(const std::string& path, const std::string& content) {
    unique_fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return os_error("open \"" + path + "\"");
    struct stat st{};
    if (::fstat(fd.get(), &st) < 0) return os_error("stat \"" + path + "\"");
    const auto old_size = static_cast<std::size_t>(st.st_size);
    std::string data = content;
    if (data.size() < old_size) {
        // Pad to the old size with a comment line ("#   ...\n"), or a blank line when
        // one byte is missing: no truncation, so no reader ever sees a cut file.
        std::size_t pad = old_size - data.size();
        if (pad == 1)
            data += "\n";
        else
            data += "#" + std::string(pad - 2, ' ') + "\n";
    }
    {
        std::string have(data.size() + 1, '\0');
        ssize_t n = ::pread(fd.get(), have.data(), have.size(), 0);
        if (n == static_cast<ssize_t>(data.size()) && have.compare(0, data.size(), data) == 0) return {};
    }
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::pwrite(fd.get(), data.data() + done, data.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return os_error("write \"" + path + "\"");
        done += static_cast<std::size_t>(n);
    }
    return {};
}

void HostsFiles::join(const std::string& app, Member m) {
    members_[app] = std::move(m);
    rewrite_all();
}

void HostsFiles::leave(const std::string& app) {
    if (members_.erase(app)) rewrite_all();
}

std::string HostsFiles::render(const std::string& app, const std::string& hostname, std::optional<Ipv4> own) const {
    std::map<std::string, Ipv4> running;
    for (const auto& [name, m] : members_) running[name] = m.address;
    if (own) running[app] = *own;
    return render_hosts(app, hostname, own, running);
}

void HostsFiles::rewrite_all() {
    for (const auto& [name, m] : members_)
        if (auto st = rewrite_in_place(m.hosts_path, render(name, m.hostname, m.address)); !st && on_error)
            on_error(name, st.error().to_string());
}

namespace {

bool loopback_nameserver(const std::string& addr) {
    if (addr == "::1") return true;
    auto a = Ipv4::parse(addr);
    return a && (a->value >> 24) == 127;
}

}  // namespace

std::string render_resolv_conf(const std::string& host, const std::vector<std::string>& nameservers) {
    std::string out;
    std::istringstream in(host);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string keyword, value;
        words >> keyword >> value;
        if (keyword == "nameserver") {
            if (!nameservers.empty() || loopback_nameserver(value)) continue;
        }
        out += line + "\n";
    }
    for (auto& ns : nameservers) out += "nameserver " + ns + "\n";
    return out;
}

}  // namespace isolated::net
