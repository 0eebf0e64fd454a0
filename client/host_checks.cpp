#include "host_checks.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

namespace isoctl {

namespace {

using isolated::AppSpec;
using isolated::Diagnostic;
using isolated::MountType;
using isolated::RootfsType;

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::vector<std::string> components(const std::string& path) {
    std::vector<std::string> out;
    std::stringstream in(path);
    for (std::string part; std::getline(in, part, '/');)
        if (!part.empty() && part != ".") out.push_back(part);
    return out;
}

// PATH inside ROOT as the sandbox sees it: symlinks followed with ROOT as "/", so an
// absolute link in a rootfs tree does not escape to the host's file. The host path of
// the result, or nullopt when a component is missing (or links loop).
std::optional<std::string> resolve_in_root(const std::string& root, const std::string& path) {
    std::string base = root == "/" ? "" : root;
    std::vector<std::string> todo = components(path);
    std::reverse(todo.begin(), todo.end());  // a stack: back() is next
    std::vector<std::string> done;
    int links = 0;
    while (!todo.empty()) {
        std::string part = todo.back();
        todo.pop_back();
        if (part == "..") {
            if (!done.empty()) done.pop_back();
            continue;
        }
        std::string here = base;
        for (const auto& d : done) here += "/" + d;
        here += "/" + part;
        struct stat st;
        if (::lstat(here.c_str(), &st) != 0) return std::nullopt;
        if (!S_ISLNK(st.st_mode)) {
            done.push_back(part);
            continue;
        }
        if (++links > 40) return std::nullopt;
        char buf[4096];
        ssize_t n = ::readlink(here.c_str(), buf, sizeof buf - 1);
        if (n < 0) return std::nullopt;
        std::string target(buf, static_cast<size_t>(n));
        if (target.starts_with('/')) done.clear();
        auto more = components(target);
        for (auto it = more.rbegin(); it != more.rend(); ++it) todo.push_back(*it);
    }
    std::string out = base;
    for (const auto& d : done) out += "/" + d;
    return out.empty() ? "/" : out;
}

bool under(const std::string& path, const std::string& dir) {
    return path == dir || (path.starts_with(dir) && (dir == "/" || path[dir.size()] == '/'));
}

// Where PATH of the sandbox is on the host. `known` is false for the kernel's file
// systems (/dev, /proc, /sys), which the check cannot see.
struct Located {
    bool known = true;
    std::optional<std::string> host;  ///< nullopt: the sandbox has nothing there
    std::string why;                  ///< when nothing: a hint at why
};

Located locate(const AppSpec& spec, const std::string& path) {
    // The innermost mount over the path decides, as in the sandbox.
    const isolated::MountSpec* best = nullptr;
    for (const auto& m : spec.mounts)
        if (under(path, m.target) && (!best || m.target.size() > best->target.size())) best = &m;
    for (const char* d : {"/dev", "/proc", "/sys"})
        if (!best && under(path, d)) return {false, std::nullopt, ""};
    if (best) {
        // A tmpfs is empty when the app is executed.
        if (best->type == MountType::tmpfs) return {true, std::nullopt, "it is on the tmpfs at " + best->target};
        return {true, resolve_in_root("/", best->source + path.substr(best->target.size())), ""};
    }
    if (spec.rootfs.type == RootfsType::host) {
        // rootfs host shows these of the host; /opt, /srv, /home, ... are empty there,
        // /tmp, /run and /var private tmpfs.
        for (const char* d : {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"})
            if (under(path, d)) return {true, resolve_in_root("/", path), ""};
        return {true, std::nullopt,
                "rootfs host shows the host's /usr, /bin, /sbin, /lib* and /etc: bind-mount other paths"};
    }
    return {true, resolve_in_root(spec.rootfs.path, path), ""};
}

bool is_executable_file(const std::string& host_path) {
    struct stat st;
    return ::stat(host_path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

std::optional<std::string> read_text(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// Whether NAME is the first field of a line of an /etc/passwd or /etc/group text.
bool has_entry(const std::string& text, const std::string& name) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.starts_with(name + ":")) return true;
    return false;
}

bool all_digits(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string trim(const std::string& s) {
    auto b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

class Checker {
public:
    explicit Checker(const AppSpec& spec) : spec_(spec) {}

    std::vector<Diagnostic> run() {
        mounts();
        bool root_ok = rootfs();
        seccomp();
        if (root_ok) {
            user();
            command();
        }
        return std::move(out_);
    }

private:
    void warn(const std::string& field, std::string message) {
        out_.push_back(Diagnostic{spec_.source_file, spec_.source_lines.line_of(field), field, std::move(message)});
    }

    std::string rootfs_name() const {
        return spec_.rootfs.type == RootfsType::host ? "rootfs host" : "the rootfs " + quoted(spec_.rootfs.path);
    }

    void mounts() {
        for (size_t i = 0; i < spec_.mounts.size(); ++i) {
            const auto& m = spec_.mounts[i];
            if (m.type != MountType::bind || m.create) continue;
            struct stat st;
            if (::stat(m.source.c_str(), &st) == 0) continue;
            int err = errno;
            std::string field = "mounts[" + std::to_string(i) + "].source";
            if (err == ENOENT)
                warn(field, quoted(m.source) + " does not exist (create it, or add \"create\": true)");
            else
                warn(field, quoted(m.source) + ": " + std::strerror(err));
        }
    }

    bool rootfs() {
        if (spec_.rootfs.type == RootfsType::host) return true;
        // An image's tree is the daemon's (image_warnings looks for the image itself).
        if (spec_.rootfs.type == RootfsType::image) return false;
        struct stat st;
        if (::stat(spec_.rootfs.path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;
        warn("rootfs.path", quoted(spec_.rootfs.path) + " is not a directory on this host");
        return false;
    }

    void seccomp() {
        if (spec_.security.seccomp != isolated::SeccompMode::path) return;
        const std::string& p = spec_.security.seccomp_path;
        if (::access(p.c_str(), R_OK) != 0)
            warn("security.seccomp", "the profile " + quoted(p) + " cannot be read: " + std::strerror(errno));
    }

    // Names are resolved in the rootfs, as the sandbox does; numeric ids need no entry.
    void user() {
        if (spec_.user.empty()) return;
        auto colon = spec_.user.find(':');
        std::string user = spec_.user.substr(0, colon);
        std::string group = colon == std::string::npos ? "" : spec_.user.substr(colon + 1);
        std::string root = spec_.rootfs.type == RootfsType::host ? "/" : spec_.rootfs.path;
        auto check = [&](const std::string& name, const char* file, const char* what) {
            if (name.empty() || all_digits(name)) return;
            auto where = resolve_in_root(root, file);
            auto text = where ? read_text(*where) : std::nullopt;
            if (!text)
                warn("user", std::string(file) + " cannot be read in " + rootfs_name() + " to resolve " + quoted(name));
            else if (!has_entry(*text, name))
                warn("user", std::string(what) + " " + quoted(name) + " is not in " + file + " of " + rootfs_name());
        };
        check(user, "/etc/passwd", "user");
        check(group, "/etc/group", "group");
    }

    void command() {
        if (spec_.command.empty()) return;
        const std::string& program = spec_.command[0];
        const std::string field = "command[0]";
        if (program.find('/') != std::string::npos) {
            std::string path = program.starts_with('/') ? program : spec_.workdir + "/" + program;
            Located at = locate(spec_, path);
            if (!at.known) return;
            if (!at.host) {
                std::string msg = quoted(program) + " does not exist in the sandbox (" + rootfs_name() + ")";
                if (!at.why.empty()) msg += "; " + at.why;
                warn(field, msg);
            } else if (!is_executable_file(*at.host)) {
                warn(field, quoted(program) + " is not an executable file in the sandbox (" + rootfs_name() + ")");
            }
            return;
        }
        auto env_path = spec_.env.find("PATH");
        std::string search = env_path != spec_.env.end() ? env_path->second : kDefaultPath;
        std::stringstream dirs(search);
        for (std::string dir; std::getline(dirs, dir, ':');) {
            if (dir.empty() || dir[0] != '/') continue;
            Located at = locate(spec_, dir + "/" + program);
            if (!at.known || (at.host && is_executable_file(*at.host))) return;
        }
        warn(field, quoted(program) + " is not found in PATH " + search + " in " + rootfs_name());
    }

    const AppSpec& spec_;
    std::vector<Diagnostic> out_;
};

}  // namespace

std::vector<Diagnostic> host_warnings(const AppSpec& spec) { return Checker(spec).run(); }

namespace {

bool is_hex64(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

}  // namespace

ImageName parse_image_name(std::string text) {
    ImageName r;
    if (is_hex64(text)) text = "sha256:" + text;
    if (text.starts_with("sha256:") && is_hex64(text.substr(7))) {
        r.id = text;
        return r;
    }
    if (auto at = text.find('@'); at != std::string::npos) {
        r.digest = text.substr(at + 1);
        text.resize(at);
    }
    auto slash = text.rfind('/');
    auto colon = text.rfind(':');
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
        r.tag = text.substr(colon + 1);
        text.resize(colon);
    }
    auto first = text.find('/');
    std::string head = first == std::string::npos ? "" : text.substr(0, first);
    bool has_domain = !head.empty() && (head.find_first_of(".:") != std::string::npos || head == "localhost");
    std::string domain = has_domain ? head : "docker.io";
    std::string path = has_domain ? text.substr(first + 1) : text;
    if (domain == "index.docker.io") domain = "docker.io";
    if (domain == "docker.io" && path.find('/') == std::string::npos) path = "library/" + path;
    r.name = domain + "/" + path;
    if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
    return r;
}

std::string ImageName::str() const {
    if (!id.empty()) return id;
    return name + (tag.empty() ? "" : ":" + tag) + (digest.empty() ? "" : "@" + digest);
}

StoreLookup find_stored_image(const std::string& ref, const std::string& state_dir) {
    StoreLookup out;
    const std::string path = state_dir + "/images/index.json";
    std::ifstream in(path);
    if (!in) {
        out.why = "cannot read " + path + ": " + std::strerror(errno);
        return out;
    }
    auto index = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!index.is_object() || !index.contains("images") || !index["images"].is_array()) {
        out.why = path + " is not an image index";
        return out;
    }
    out.readable = true;
    const ImageName want = parse_image_name(ref);
    for (const auto& img : index["images"]) {
        if (!img.is_object()) continue;
        auto str = [&](const char* k) { return img.contains(k) && img[k].is_string() ? img[k].get<std::string>() : ""; };
        StoredImage found{str("id"), str("manifest"), {}};
        if (img.contains("refs") && img["refs"].is_array())
            for (const auto& r : img["refs"])
                if (r.is_string()) found.refs.push_back(r.get<std::string>());
        bool match = !want.id.empty() && found.id == want.id;
        for (const auto& r : found.refs) {
            if (!want.id.empty()) break;
            ImageName have = parse_image_name(r);
            if (have.name == want.name && (!want.digest.empty() ? found.manifest == want.digest : have.tag == want.tag))
                match = true;
        }
        if (match) {
            out.image = std::move(found);
            return out;
        }
    }
    out.why = "image " + quoted(ref) + " is not in the store at " + state_dir + "/images";
    return out;
}

std::vector<Diagnostic> image_warnings(const AppSpec& spec, const std::string& state_dir) {
    if (spec.rootfs.type != RootfsType::image) return {};
    auto found = find_stored_image(spec.rootfs.image, state_dir);
    // Not ours to see (root's, or another host's): the file's syntax is all that is checked.
    if (!found.readable || found.image) return {};
    const std::string how = parse_image_name(spec.rootfs.image).id.empty() ? "isoctl image pull " + spec.rootfs.image
                                                                           : std::string("isoctl image load FILE");
    return {Diagnostic{spec.source_file, spec.source_lines.line_of("rootfs.image"), "rootfs.image",
                       "image " + quoted(spec.rootfs.image) + " is not in the store: " + how}};
}

std::string state_dir_of_config(const std::string& config_text) {
    std::istringstream in(config_text);
    for (std::string line; std::getline(in, line);) {
        line = trim(line.substr(0, line.find('#')));
        auto eq = line.find('=');
        if (eq == std::string::npos || trim(line.substr(0, eq)) != "state-dir") continue;
        return trim(line.substr(eq + 1));
    }
    return "/var/lib/isolated";
}

std::string subnet_of_config(const std::string& config_text) {
    std::string subnet = "10.100.0.0/24";
    std::istringstream in(config_text);
    for (std::string line; std::getline(in, line);) {
        line = trim(line.substr(0, line.find('#')));
        auto eq = line.find('=');
        if (eq == std::string::npos || trim(line.substr(0, eq)) != "subnet") continue;
        return trim(line.substr(eq + 1));  // the daemon refuses a key given twice
    }
    return subnet;
}

}  // namespace isoctl
