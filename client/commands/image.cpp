// isoctl image load|pull|ls|inspect|rm|prune: the daemon's image store (issue 14).
//
// `load` streams the archive as the request body, never holding it in memory: a FILE
// or stdin ("-") as it is, a DIR (an OCI layout or an unpacked docker save) as a tar
// made on the fly by a thread writing into a pipe. The answer is NDJSON: one line per
// step, shown as a line each, then the result (or the error).
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <thread>

#include "commands/commands.hpp"
#include "isolated/api_json.hpp"
#include "isolated/image_types.hpp"

namespace isoctl::commands {
namespace {

using isolated::ImageInfo;

std::string short_id(const std::string& id) {
    auto colon = id.find(':');
    std::string hex = colon == std::string::npos ? id : id.substr(colon + 1);
    return hex.substr(0, 12);
}

/// "docker.io/library/busybox:1" -> "busybox:1", as docker and podman show refs.
std::string familiar(const std::string& ref) {
    const std::string lib = "docker.io/library/";
    if (ref.rfind(lib, 0) == 0 && ref.find('/', lib.size()) == std::string::npos) return ref.substr(lib.size());
    if (ref.rfind("docker.io/", 0) == 0) return ref.substr(10);
    return ref;
}

/// Percent-encodes what a path segment or query value cannot carry as is.
std::string escape(const std::string& s, bool keep_slash) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == '@' ||
            (keep_slash && c == '/'))
            out += static_cast<char>(c);
        else {
            char b[4];
            std::snprintf(b, sizeof b, "%%%02X", c);
            out += b;
        }
    }
    return out;
}

/// Writes DIR as a tar into `fd` (the pipe's write end), closing it when done.
void tar_dir(std::string dir, int fd, std::string* error) {
    archive* disk = archive_read_disk_new();
    archive* out = archive_write_new();
    archive_read_disk_set_symlink_physical(disk);
    archive_read_disk_set_standard_lookup(disk);
    archive_write_set_format_pax_restricted(out);
    auto fail = [&](archive* a) {
        const char* e = archive_error_string(a);
        *error = e ? e : "archive error";
    };
    if (archive_write_open_fd(out, fd) != ARCHIVE_OK) {
        fail(out);
    } else if (archive_read_disk_open(disk, ".") != ARCHIVE_OK) {
        fail(disk);
    } else {
        // Paths relative to DIR: index.json, blobs/sha256/...
        char cwd[4096];
        bool moved = ::getcwd(cwd, sizeof cwd) != nullptr;
        (void)moved;
        while (true) {
            archive_entry* e = archive_entry_new();
            int r = archive_read_next_header2(disk, e);
            if (r == ARCHIVE_EOF) {
                archive_entry_free(e);
                break;
            }
            if (r != ARCHIVE_OK) {
                fail(disk);
                archive_entry_free(e);
                break;
            }
            archive_read_disk_descend(disk);
            if (archive_write_header(out, e) != ARCHIVE_OK) {
                fail(out);
                archive_entry_free(e);
                break;
            }
            if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
                int in = ::open(archive_entry_sourcepath(e), O_RDONLY | O_CLOEXEC);
                if (in < 0) {
                    *error = std::string(archive_entry_sourcepath(e)) + ": " + std::strerror(errno);
                    archive_entry_free(e);
                    break;
                }
                char buf[256 * 1024];
                ssize_t n;
                while ((n = ::read(in, buf, sizeof buf)) > 0) archive_write_data(out, buf, static_cast<size_t>(n));
                ::close(in);
            }
            archive_entry_free(e);
        }
    }
    archive_write_close(out);
    archive_write_free(out);
    archive_read_free(disk);
    ::close(fd);
    (void)dir;
}

int image_load(const Invocation& inv, Context& ctx) {
    if (inv.args.size() != 2) throw UsageError("image load takes one FILE, DIR or -", "image");
    const std::string& src = inv.args[1];
    int fd = -1;
    std::thread tarrer;
    std::string tar_error;
    int saved_cwd = -1;
    if (src == "-") {
        fd = STDIN_FILENO;
    } else {
        struct stat st {};
        if (::stat(src.c_str(), &st) != 0)
            throw Failure(exit_code::failed, src + ": " + std::strerror(errno));
        if (S_ISDIR(st.st_mode)) {
            int p[2];
            if (::pipe2(p, O_CLOEXEC) != 0) throw Failure(exit_code::failed, std::string("pipe: ") + std::strerror(errno));
            // libarchive's disk reader walks relative to the working directory.
            saved_cwd = ::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (::chdir(src.c_str()) != 0) throw Failure(exit_code::failed, src + ": " + std::strerror(errno));
            fd = p[0];
            tarrer = std::thread(tar_dir, src, p[1], &tar_error);
        } else {
            fd = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) throw Failure(exit_code::failed, src + ": " + std::strerror(errno));
        }
    }
    struct Cleanup {
        int fd;
        bool close_fd;
        std::thread& t;
        int cwd;
        ~Cleanup() {
            if (close_fd) ::close(fd);
            if (t.joinable()) t.join();
            if (cwd >= 0) {
                if (::fchdir(cwd) != 0) {
                }
                ::close(cwd);
            }
        }
    } cleanup{fd, src != "-", tarrer, saved_cwd};

    std::string target = "/v1/images/load";
    if (auto name = inv.value("name")) target += "?name=" + escape(*name, false);
    std::string pending;
    std::optional<std::string> error;
    std::vector<ImageInfo> loaded;
    nlohmann::json result;
    auto on_line = [&](const std::string& line) {
        if (line.empty()) return;
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded()) return;
        if (j.contains("status") && j["status"].is_string()) {
            if (!ctx.json()) ctx.err() << j["status"].get<std::string>() << "\n";
        } else if (j.contains("result")) {
            result = j["result"];
            loaded = decode<std::vector<ImageInfo>>(j["result"].value("images", nlohmann::json::array()));
        } else if (j.contains("error")) {
            error = j["error"].value("message", std::string("the load failed"));
        }
    };
    ctx.client().upload(
        target,
        [&](char* buf, std::size_t cap) -> std::size_t {
            while (true) {
                ssize_t n = ::read(fd, buf, cap);
                if (n >= 0) return static_cast<std::size_t>(n);
                if (errno == EINTR) continue;
                throw Failure(exit_code::failed, src + ": " + std::strerror(errno));
            }
        },
        [&](std::string_view data) {
            pending.append(data);
            std::size_t nl;
            while ((nl = pending.find('\n')) != std::string::npos) {
                on_line(pending.substr(0, nl));
                pending.erase(0, nl + 1);
            }
        });
    on_line(pending);
    if (!tar_error.empty()) throw Failure(exit_code::failed, src + ": " + tar_error);
    if (error) throw Failure(exit_code::failed, *error);
    if (result.is_null()) throw Failure(exit_code::failed, "the daemon ended the load without a result");
    if (ctx.json()) {
        ctx.out() << print_json(nlohmann::ordered_json::parse(result.dump()));
        return exit_code::ok;
    }
    for (const auto& i : loaded) {
        if (i.refs.empty()) ctx.out() << "Loaded image ID: " << i.id << "\n";
        for (const auto& r : i.refs) ctx.out() << "Loaded image: " << familiar(r) << " (" << short_id(i.id) << ")\n";
    }
    return exit_code::ok;
}

/// Pull progress on stderr: on a terminal, one line per blob redrawn in place as a bar
/// (bytes so far of the total); otherwise plain lines only.
class PullView {
public:
    PullView(std::ostream& err, bool terminal) : err_(err), terminal_(terminal) {}
    ~PullView() { finish(); }
    /// Ends a bar being drawn (its line stays).
    void finish() { end_bar(); }

    void line(const std::string& text) {
        end_bar();
        err_ << text << "\n";
    }
    void progress(const std::string& text, const std::string& id, std::uint64_t current, std::uint64_t total) {
        if (!terminal_) {
            // The daemon says when each blob is done; say when it starts.
            if (current == 0 && id != bar_id_) {
                bar_id_ = id;
                err_ << text << " (" << human_bytes(total) << ")\n";
            }
            return;
        }
        if (id != bar_id_) end_bar();
        bar_id_ = id;
        bar_open_ = true;
        constexpr int width = 30;
        int filled = total ? static_cast<int>(static_cast<double>(current) / static_cast<double>(total) * width) : width;
        std::string bar(static_cast<std::size_t>(std::clamp(filled, 0, width)), '=');
        if (filled < width) bar += '>';
        bar.resize(width, ' ');
        err_ << "\r\033[K" << text << " [" << bar << "] " << human_bytes(current) << " / " << human_bytes(total)
             << std::flush;
    }

private:
    void end_bar() {
        if (bar_open_) err_ << "\n";
        bar_open_ = false;
    }
    std::ostream& err_;
    bool terminal_;
    bool bar_open_ = false;
    std::string bar_id_;
};

int image_pull(const Invocation& inv, Context& ctx) {
    if (inv.args.size() != 2) throw UsageError("image pull takes one REF", "image");
    nlohmann::json body{{"ref", inv.args[1]}};
    if (auto f = inv.value("authfile")) {
        // The daemon reads it, so it needs the whole path; it reads it only if we may.
        std::error_code ec;
        auto abs = std::filesystem::absolute(*f, ec);
        body["authfile"] = ec ? *f : abs.lexically_normal().string();
    }
    std::string pending;
    std::optional<std::string> error;
    nlohmann::json result;
    std::vector<ImageInfo> pulled;
    PullView view(ctx.err(), !ctx.json() && ::isatty(STDERR_FILENO) == 1);
    auto on_line = [&](const std::string& line) {
        if (line.empty()) return;
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return;
        if (j.contains("status") && j["status"].is_string()) {
            if (ctx.json()) return;
            std::string text = j["status"].get<std::string>();
            const auto& p = j.contains("progress") ? j["progress"] : nlohmann::json();
            if (p.is_object() && p.value("id", "") != "")
                view.progress(text, p.value("id", ""), p.value("current", std::uint64_t{0}), p.value("total", std::uint64_t{0}));
            else
                view.line(text);
        } else if (j.contains("result")) {
            result = j["result"];
            pulled = decode<std::vector<ImageInfo>>(j["result"].value("images", nlohmann::json::array()));
        } else if (j.contains("error") && j["error"].is_object()) {
            error = j["error"].value("message", std::string("the pull failed"));
        }
    };
    ctx.client().post_stream("/v1/images/pull", body.dump(), [&](std::string_view data) {
        pending.append(data);
        std::size_t nl;
        while ((nl = pending.find('\n')) != std::string::npos) {
            on_line(pending.substr(0, nl));
            pending.erase(0, nl + 1);
        }
    });
    on_line(pending);
    view.finish();
    if (error) throw Failure(exit_code::failed, *error);
    if (result.is_null()) throw Failure(exit_code::failed, "the daemon ended the pull without a result");
    if (ctx.json()) {
        ctx.out() << print_json(nlohmann::ordered_json::parse(result.dump()));
        return exit_code::ok;
    }
    for (const auto& i : pulled)
        for (const auto& r : i.refs) ctx.out() << "Pulled image: " << familiar(r) << " (" << short_id(i.id) << ")\n";
    return exit_code::ok;
}

int image_ls(const Invocation& inv, Context& ctx) {
    if (inv.args.size() != 1) throw UsageError("image ls takes no arguments", "image");
    Response r = ctx.client().get("/v1/images");
    if (ctx.json()) {
        ctx.out() << print_json(parse_ordered_json(r.body));
        return exit_code::ok;
    }
    auto j = parse_json(r.body);
    auto images = decode<std::vector<ImageInfo>>(j.value("images", nlohmann::json::array()));
    Table t({{"REPOSITORY"}, {"TAG"}, {"IMAGE ID"}, {"CREATED"}, {"SIZE"}});
    for (const auto& i : images) {
        auto row = [&](const std::string& repo, const std::string& tag) {
            std::string created = "-";
            if (auto when = isolated::parse_rfc3339(i.created)) created = relative_time(*when, ctx.now());
            t.add_row({repo, tag, short_id(i.id), created, human_bytes(i.rootfs_size)});
        };
        if (i.refs.empty()) row("<none>", "<none>");
        for (const auto& ref : i.refs) {
            std::string f = familiar(ref);
            auto at = f.find('@');
            auto colon = f.rfind(':', at == std::string::npos ? std::string::npos : at);
            if (at != std::string::npos) row(f.substr(0, at), "<none>");
            else if (colon != std::string::npos && f.find('/', colon) == std::string::npos)
                row(f.substr(0, colon), f.substr(colon + 1));
            else row(f, "<none>");
        }
    }
    ctx.out() << t.render(ctx.color());
    return exit_code::ok;
}

int image_inspect(const Invocation& inv, Context& ctx) {
    if (inv.args.size() != 2) throw UsageError("image inspect takes one REF", "image");
    Response r = ctx.client().get("/v1/images/" + escape(inv.args[1], true));
    // JSON is the useful form of an image's details (docker and podman print it too).
    ctx.out() << print_json(parse_ordered_json(r.body));
    return exit_code::ok;
}

int image_rm(const Invocation& inv, Context& ctx) {
    if (inv.args.size() < 2) throw UsageError("image rm takes one or more REFs", "image");
    int rc = exit_code::ok;
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (std::size_t i = 1; i < inv.args.size(); ++i) {
        Request req{"DELETE", "/v1/images/" + escape(inv.args[i], true), {}, kActionTimeout};
        Response r = ctx.client().raw(req);
        if (!r.ok()) {
            try {
                throw_api_error(r, {});
            } catch (const Failure& f) {
                ctx.report(inv.args[i] + ": " + f.what());
                rc = exit_code::failed;
                continue;
            }
        }
        auto rep = decode<isolated::ImageRemoveReport>(parse_json(r.body));
        if (ctx.json()) {
            all.push_back(parse_ordered_json(r.body));
            continue;
        }
        for (const auto& u : rep.untagged) ctx.out() << "Untagged: " << familiar(u) << "\n";
        for (const auto& d : rep.deleted) ctx.out() << "Deleted: " << d << "\n";
    }
    if (ctx.json()) ctx.out() << print_json(all);
    return rc;
}

int image_prune(const Invocation& inv, Context& ctx) {
    if (inv.args.size() != 1) throw UsageError("image prune takes no arguments", "image");
    Response r = ctx.client().post("/v1/images/prune", "", kActionTimeout);
    if (ctx.json()) {
        ctx.out() << print_json(parse_ordered_json(r.body));
        return exit_code::ok;
    }
    auto rep = decode<isolated::ImagePruneReport>(parse_json(r.body));
    for (const auto& d : rep.images) ctx.out() << "Deleted: " << d << "\n";
    ctx.out() << "Removed " << rep.images.size() << " images, " << rep.rootfs << " trees and " << rep.blobs
              << " blobs; freed " << human_bytes(rep.bytes) << "\n";
    return exit_code::ok;
}

}  // namespace

int image(const Invocation& inv, Context& ctx) {
    if (inv.args.empty()) throw UsageError("image needs a command: load, pull, ls, inspect, rm or prune", "image");
    const std::string& sub = inv.args[0];
    if (sub != "load" && inv.value("name")) throw UsageError("--name is an option of image load", "image");
    if (sub != "pull" && inv.value("authfile")) throw UsageError("--authfile is an option of image pull", "image");
    if (sub == "load") return image_load(inv, ctx);
    if (sub == "pull") return image_pull(inv, ctx);
    if (sub == "ls" || sub == "list") return image_ls(inv, ctx);
    if (sub == "inspect") return image_inspect(inv, ctx);
    if (sub == "rm" || sub == "remove") return image_rm(inv, ctx);
    if (sub == "prune") return image_prune(inv, ctx);
    throw UsageError("unknown image command \"" + sub + "\" (load, pull, ls, inspect, rm, prune)", "image");
}

}  // namespace isoctl::commands
