// isoctl export kube / import kube: the verbs around the pure mapping in kube/ --
// reading app files and manifests, printing warnings, writing files. No daemon.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>

#include "commands/commands.hpp"
#include "host_checks.hpp"
#include "isolated/app_parser.hpp"
#include "kube/kube.hpp"

namespace isoctl::commands {

namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultAppsDir = "/etc/isolated/apps";

void require_kube(const Invocation& inv) {
    if (inv.args.empty() || inv.args[0] != "kube")
        throw UsageError("the only format is kube: isoctl " + inv.verb->synopsis, inv.verb->name);
}

/// Prints the warnings; with --strict they are errors. Returns whether to go on.
bool report(Context& ctx, const std::vector<kube::Warning>& warnings, const std::vector<kube::Warning>& errors,
            bool strict) {
    for (const auto& e : errors) ctx.err() << "isoctl: " << e.to_string() << "\n";
    for (const auto& w : warnings) ctx.err() << (strict ? "isoctl: " : "warning: ") << w.to_string() << "\n";
    ctx.err().flush();
    return errors.empty() && (!strict || warnings.empty());
}

std::string read_text(std::istream& in) {
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

int export_(const Invocation& inv, Context& ctx) {
    require_kube(inv);
    kube::ExportOptions opt;
    for (const auto& v : inv.all_values.count("image") ? inv.all_values.at("image") : std::vector<std::string>{}) {
        auto eq = v.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == v.size())
            throw UsageError("--image takes APP=REF, not \"" + v + "\"", "export");
        opt.images[v.substr(0, eq)] = v.substr(eq + 1);
    }
    opt.pin = inv.flag("pin");
    opt.service_type = inv.value("service-type").value_or("ClusterIP");
    if (opt.service_type != "ClusterIP" && opt.service_type != "NodePort" && opt.service_type != "LoadBalancer")
        throw UsageError("--service-type is ClusterIP, NodePort or LoadBalancer", "export");
    opt.host_ports = inv.flag("host-ports");
    opt.host_paths = inv.flag("host-paths");
    opt.include_secret_values = inv.flag("include-secret-values");
    opt.pvc_size = inv.value("pvc-size").value_or("1Gi");
    opt.storage_class = inv.value("storage-class").value_or("");
    const bool strict = inv.flag("strict");

    // What to read: a directory, one app file (with its directory, for app: references),
    // or app names in --apps-dir.
    std::vector<std::string> rest(inv.args.begin() + 1, inv.args.end());
    std::string dir = inv.value("apps-dir").value_or(kDefaultAppsDir);
    std::set<std::string> wanted;
    if (rest.size() == 1 && fs::is_directory(rest[0])) {
        dir = rest[0];
    } else {
        for (const auto& r : rest) {
            if (r.ends_with(".json") || r.find('/') != std::string::npos) {
                fs::path p(r);
                dir = p.has_parent_path() ? p.parent_path().string() : ".";
                wanted.insert(p.stem().string());
            } else {
                require_app_name(r, "export");
                wanted.insert(r);
            }
        }
    }
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw Failure(exit_code::failed, "cannot read " + dir + ": not a directory");
    isolated::AppDir loaded = isolated::load_app_dir(dir);
    bool bad = false;
    for (const auto& [name, diags] : loaded.rejected) {
        if (!wanted.empty() && !wanted.count(name) && !name.empty()) continue;
        for (const auto& d : diags) ctx.err() << "isoctl: " << d.to_string() << "\n";
        bad = true;
    }
    std::map<std::string, isolated::AppSpec> apps;
    if (wanted.empty()) {
        apps = loaded.apps;
    } else {
        // The named apps and the apps they join (their Pod).
        std::function<void(const std::string&)> add = [&](const std::string& n) {
            auto it = loaded.apps.find(n);
            if (it == loaded.apps.end() || apps.count(n)) return;
            apps.emplace(n, it->second);
            const auto& a = it->second;
            if (a.network.mode == isolated::NetworkMode::app) add(a.network.app);
            for (const auto* ns : {&a.namespaces.pid, &a.namespaces.ipc, &a.namespaces.uts})
                if (ns->kind == isolated::NamespaceKind::app) add(ns->app);
        };
        for (const auto& n : wanted) {
            if (!loaded.apps.count(n) && !loaded.rejected.count(n))
                throw Failure(exit_code::no_such_app, "no app \"" + n + "\" in " + dir);
            add(n);
        }
    }
    if (bad) throw Failure(exit_code::failed, "");

    // The image store image apps' images (and --pin's digests) are read from.
    kube::FsHostView host(state_dir_of_config(daemon_config(inv)));
    kube::ExportResult res = kube::export_kube(apps, opt, host);
    if (!report(ctx, res.warnings, res.errors, strict)) return exit_code::failed;
    if (ctx.json()) {
        kube::ojson list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", res.documents}};
        ctx.out() << list.dump(2) << "\n";
    } else {
        ctx.out() << kube::to_yaml(res.documents);
    }
    return exit_code::ok;
}

int import_(const Invocation& inv, Context& ctx) {
    require_kube(inv);
    const bool strict = inv.flag("strict");
    std::vector<kube::Manifest> manifests;
    for (std::size_t i = 1; i < inv.args.size(); ++i) {
        const std::string& f = inv.args[i];
        std::string text;
        if (f == "-") {
            text = read_text(std::cin);
        } else {
            std::ifstream in(f, std::ios::binary);
            if (!in) throw Failure(exit_code::failed, "cannot read " + f + ": " + std::strerror(errno));
            text = read_text(in);
        }
        try {
            for (auto& doc : kube::parse_yaml(text, f == "-" ? "stdin" : f)) manifests.push_back({f, std::move(doc)});
        } catch (const std::runtime_error& e) {
            throw Failure(exit_code::failed, e.what());
        }
    }
    std::error_code ec;
    fs::path dir = fs::absolute(inv.value("output-dir").value_or("."), ec).lexically_normal();
    std::string out_dir = dir.string();
    while (out_dir.size() > 1 && out_dir.back() == '/') out_dir.pop_back();
    kube::ImportResult res = kube::import_kube(manifests, {out_dir});
    if (!report(ctx, res.warnings, res.errors, strict)) return exit_code::failed;

    // Nothing is overwritten: an existing app file stops the whole import first.
    for (const auto& [name, _] : res.app_files)
        if (fs::exists(dir / (name + ".json"), ec))
            throw Failure(exit_code::failed, (dir / (name + ".json")).string() + " exists: not overwritten");
    auto write = [&](const fs::path& p, const std::string& content, std::uint32_t mode) {
        fs::create_directories(p.parent_path(), ec);
        if (ec) throw Failure(exit_code::failed, "cannot create " + p.parent_path().string() + ": " + ec.message());
        // Secrets are created with their mode, never readable by others for a moment.
        std::string tmp = p.string() + ".tmp";
        mode_t old = ::umask(077);
        std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
        ::umask(old);
        o << content;
        o.close();
        if (!o || ::chmod(tmp.c_str(), mode) != 0 || ::rename(tmp.c_str(), p.c_str()) != 0)
            throw Failure(exit_code::failed, "cannot write " + p.string() + ": " + std::strerror(errno));
    };
    for (const auto& f : res.files) {
        fs::path p(f.path);
        if (p.parent_path().parent_path().filename() == "secrets" || p.parent_path().filename() == "env") {
            fs::create_directories(p.parent_path(), ec);
            ::chmod(p.parent_path().c_str(), 0700);
        }
        write(p, f.content, f.mode);
    }
    for (const auto& [name, j] : res.app_files) {
        write(dir / (name + ".json"), j.dump(2) + "\n", 0644);
        ctx.out() << (dir / (name + ".json")).string() << "\n";
    }
    return exit_code::ok;
}

}  // namespace isoctl::commands
