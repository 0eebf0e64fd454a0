// FsHostView: what isoctl export kube reads on the machine it runs on -- the rootfs's
// passwd and group files (runAsUser wants numbers; an image app's in its image's tree in
// the store), the image store's index (an image app's image, --pin's digest), the files of read-only config
// directories (ConfigMaps) and, with --include-secret-values only, envFiles and secrets.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kube/kube.hpp"

namespace isoctl::kube {

namespace {

namespace fs = std::filesystem;

std::optional<std::string> slurp(const std::string& path, std::string& why) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        why = path + ": " + std::strerror(errno);
        return std::nullopt;
    }
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

std::optional<StoredImage> FsHostView::stored_image(const std::string& ref, std::string& why) {
    auto found = find_stored_image(ref, state_dir_);
    if (!found.image) why = found.why;
    return found.image;
}

std::optional<std::string> FsHostView::root_of(const isolated::AppSpec& app, std::string& why) {
    switch (app.rootfs.type) {
        case isolated::RootfsType::host: return std::string();
        case isolated::RootfsType::directory: return app.rootfs.path;
        case isolated::RootfsType::image: break;
    }
    // The image's tree as the store unpacked it: rootfs/<config hex>.
    auto image = stored_image(app.rootfs.image, why);
    if (!image) return std::nullopt;
    return state_dir_ + "/images/rootfs/" + image->id.substr(image->id.find(':') + 1);
}

/// Field FIELD (0-based) of the line of FILE (passwd/group syntax) whose first field is NAME.
std::optional<std::uint32_t> FsHostView::lookup(const isolated::AppSpec& app, const char* file, const std::string& name,
                                                int field, std::string& why) {
    auto root = root_of(app, why);
    if (!root) return std::nullopt;
    std::string path = *root + file;
    auto text = slurp(path, why);
    if (!text) return std::nullopt;
    std::istringstream lines(*text);
    for (std::string line; std::getline(lines, line);) {
        std::vector<std::string> parts;
        std::size_t start = 0;
        for (std::size_t colon; (colon = line.find(':', start)) != std::string::npos; start = colon + 1)
            parts.push_back(line.substr(start, colon - start));
        parts.push_back(line.substr(start));
        if (parts.size() > std::size_t(field) && parts[0] == name) {
            try {
                return static_cast<std::uint32_t>(std::stoul(parts[field]));
            } catch (const std::exception&) {
                break;
            }
        }
    }
    why = "\"" + name + "\" is not in " + path;
    return std::nullopt;
}

std::optional<std::uint32_t> FsHostView::user_id(const isolated::AppSpec& app, const std::string& name, std::string& why) {
    return lookup(app, "/etc/passwd", name, 2, why);
}
std::optional<std::uint32_t> FsHostView::user_gid(const isolated::AppSpec& app, const std::string& name,
                                                  std::string& why) {
    return lookup(app, "/etc/passwd", name, 3, why);
}
std::optional<std::uint32_t> FsHostView::group_id(const isolated::AppSpec& app, const std::string& name,
                                                  std::string& why) {
    return lookup(app, "/etc/group", name, 2, why);
}

std::optional<std::string> FsHostView::read_file(const std::string& path, std::string& why) { return slurp(path, why); }

std::optional<HostTree> FsHostView::read_tree(const std::string& path, std::string& why) {
    std::error_code ec;
    auto st = fs::status(path, ec);
    if (ec) {
        why = ec.message();
        return std::nullopt;
    }
    HostTree tree;
    auto add = [&](const fs::path& file, const std::string& rel) -> bool {
        auto content = slurp(file.string(), why);
        if (!content) return false;
        struct stat sb {};
        bool exec = ::stat(file.c_str(), &sb) == 0 && (sb.st_mode & S_IXUSR);
        tree.files.push_back({rel, std::move(*content), exec});
        return true;
    };
    if (fs::is_regular_file(st)) {
        tree.single_file = true;
        if (!add(path, fs::path(path).filename().string())) return std::nullopt;
        return tree;
    }
    if (!fs::is_directory(st)) {
        why = "neither a file nor a directory";
        return std::nullopt;
    }
    std::vector<fs::path> entries;
    for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
        entries.push_back(it->path());
    if (ec) {
        why = ec.message();
        return std::nullopt;
    }
    std::sort(entries.begin(), entries.end());
    for (const auto& e : entries) {
        std::string rel = fs::relative(e, path).string();
        auto est = fs::status(e, ec);
        if (fs::is_directory(est)) continue;
        if (!fs::is_regular_file(est)) {
            tree.skipped.push_back(rel);
            continue;
        }
        if (!add(e, rel)) return std::nullopt;
    }
    return tree;
}

}  // namespace isoctl::kube
