#include "registry/auth.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>
#include "isolated/base64.hpp"

#include "isolated/unique_fd.hpp"
#include "sys/file.hpp"

namespace isolated::registry {

namespace {

constexpr std::size_t auth_file_max = 1024 * 1024;

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool is_token_char(char c) {
    // RFC 7230 tchar
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// A key as containers/image normalizes it: scheme and (for URL forms) path dropped,
/// Docker Hub's names made docker.io.
std::string normalize_key(std::string_view key) {
    bool url = false;
    for (std::string_view scheme : {"https://", "http://"})
        if (key.substr(0, scheme.size()) == scheme) {
            key.remove_prefix(scheme.size());
            url = true;
        }
    std::string_view host = key.substr(0, key.find('/'));
    std::string_view rest = url || host.size() == key.size() ? std::string_view() : key.substr(host.size());
    while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    return normalize_registry(host) + std::string(rest);
}

}  // namespace

std::vector<Challenge> parse_www_authenticate(std::string_view h) {
    // A sequence of tokens: one followed by '=' is a parameter of the challenge being
    // read, any other starts a challenge (its scheme). Quoted values may hold commas.
    std::vector<Challenge> out;
    std::size_t i = 0;
    auto skip = [&](std::string_view chars) {
        while (i < h.size() && chars.find(h[i]) != std::string_view::npos) ++i;
    };
    while (i < h.size()) {
        skip(" \t,");
        std::size_t b = i;
        while (i < h.size() && is_token_char(h[i])) ++i;
        std::string_view t = h.substr(b, i - b);
        if (t.empty()) {
            if (i < h.size()) ++i;  // junk: one character at a time
            continue;
        }
        skip(" \t");
        if (i >= h.size() || h[i] != '=') {
            out.push_back(Challenge{lower(t), {}});
            continue;
        }
        ++i;  // '='
        skip(" \t");
        std::string value;
        if (i < h.size() && h[i] == '"') {
            ++i;
            while (i < h.size() && h[i] != '"') {
                if (h[i] == '\\' && i + 1 < h.size()) ++i;
                value += h[i++];
            }
            if (i < h.size()) ++i;  // the closing quote
        } else {
            std::size_t v = i;
            while (i < h.size() && h[i] != ',' && h[i] != ' ' && h[i] != '\t') ++i;
            value = std::string(h.substr(v, i - v));
        }
        // A parameter before any scheme is junk.
        if (!out.empty()) out.back().params.emplace(lower(t), std::move(value));
    }
    return out;
}

std::string normalize_registry(std::string_view domain) {
    std::string d = lower(domain);
    if (d == "index.docker.io" || d == "registry-1.docker.io" || d == "registry.hub.docker.com") return "docker.io";
    return d;
}

Result<AuthFile> AuthFile::parse(std::string_view text, const std::string& path) {
    auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return Error::msg(path + ": not a JSON object");
    AuthFile out;
    out.exists_ = true;
    auto auths = j.find("auths");
    if (auths == j.end() || auths->is_null()) return out;
    if (!auths->is_object()) return Error::msg(path + ": \"auths\" is not an object");
    for (const auto& [key, entry] : auths->items()) {
        if (!entry.is_object()) return Error::msg(path + ": auths[\"" + key + "\"] is not an object");
        auto a = entry.find("auth");
        if (a == entry.end() || !a->is_string() || a->get<std::string>().empty()) continue;
        auto decoded = base64_decode(a->get<std::string>());
        auto colon = decoded ? decoded->find(':') : std::string::npos;
        if (!decoded || colon == std::string::npos)
            return Error::msg(path + ": auths[\"" + key + "\"].auth is not base64 of \"user:password\"");
        out.entries_[normalize_key(key)] = Credentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
    }
    return out;
}

Result<AuthFile> AuthFile::load(const std::string& path, const Reader* reader) {
    // O_NONBLOCK: a FIFO named here must not hang the pull; only regular files are read.
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) {
        if (errno == ENOENT) return AuthFile{};
        return os_error("open the auth file \"" + path + "\"");
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return os_error("stat the auth file \"" + path + "\"");
    if (!S_ISREG(st.st_mode)) return Error::os(EINVAL, "the auth file \"" + path + "\" is not a regular file");
    if (reader && reader->uid != 0) {
        bool in_group = st.st_gid == reader->gid ||
                        std::find(reader->groups.begin(), reader->groups.end(), st.st_gid) != reader->groups.end();
        bool may = (st.st_uid == reader->uid && (st.st_mode & S_IRUSR)) ||
                   (st.st_uid != reader->uid && in_group && (st.st_mode & S_IRGRP)) ||
                   (st.st_uid != reader->uid && !in_group && (st.st_mode & S_IROTH));
        if (!may)
            return Error::os(EACCES, "the auth file \"" + path + "\" is not readable by the caller (uid " +
                                         std::to_string(reader->uid) + ")");
    }
    if (st.st_size > static_cast<off_t>(auth_file_max))
        return Error::os(EFBIG, "the auth file \"" + path + "\" is larger than 1 MiB");
    auto text = sys::read_all(fd.get(), auth_file_max + 1);
    if (!text) return Error::os(text.error().errno_value, "read the auth file \"" + path + "\"");
    if (text->size() > auth_file_max) return Error::os(EFBIG, "the auth file \"" + path + "\" is larger than 1 MiB");
    auto out = parse(*text, path);
    if (!out) return Error::os(EINVAL, out.error().message);
    out->world_readable_ = (st.st_mode & S_IROTH) != 0;
    return out;
}

std::optional<Credentials> AuthFile::find(std::string_view domain, std::string_view path) const {
    std::string key = normalize_registry(domain) + "/" + std::string(path);
    while (true) {
        if (auto it = entries_.find(key); it != entries_.end()) return it->second;
        auto slash = key.rfind('/');
        if (slash == std::string::npos) return std::nullopt;
        key.resize(slash);
    }
}

}  // namespace isolated::registry
