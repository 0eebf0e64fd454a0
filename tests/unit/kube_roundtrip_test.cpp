// The round trip of issue 15, item 3: export -> YAML -> import gives back the same
// canonical app files, over conf/apps and tests/kube/corpus, for everything that maps.
// "Everything that maps" is checked, not listed: every field the export warned about
// is left out of the comparison, and any other difference fails -- so a field lost
// without a warning fails this test.
#include <catch2/catch.hpp>

#include <filesystem>

#include "isolated/api_json.hpp"
#include "isolated/app_parser.hpp"
#include "isolated/env_file.hpp"
#include "kube/kube.hpp"

using namespace isoctl::kube;
using isolated::json;

namespace {

const std::string kSource = ISOLATED_SOURCE_DIR;
const std::string kOut = "/imported";

/// The machine the apps come from: conf/apps' config files are the repository's
/// conf/files; every other file is made up from its path.
struct RoundTripHost : FsHostView {
    std::optional<std::uint32_t> user_id(const isolated::AppSpec&, const std::string&, std::string& why) override {
        why = "no names in the corpus";
        return std::nullopt;
    }
    std::optional<HostTree> read_tree(const std::string& path, std::string& why) override {
        const std::string prefix = "/etc/isolated/files/";
        if (path.rfind(prefix, 0) == 0) return FsHostView::read_tree(kSource + "/conf/files/" + path.substr(prefix.size()), why);
        return HostTree{false, {{"a.conf", "a of " + path + "\n", false}, {"sub/b.txt", "b of " + path, true}}, {}};
    }
    std::optional<std::string> read_file(const std::string& path, std::string& why) override {
        if (path.find("optional") != std::string::npos) {
            why = "No such file or directory";
            return std::nullopt;
        }
        if (path.ends_with(".env")) return "NAME_A=value of " + path + "\nNAME_B='two words'\n";
        return "secret of " + path;
    }
};

/// "network.ports[1].host" -> the value it names in J (created as null when missing).
json* at(json& j, const std::string& field) {
    json* cur = &j;
    std::size_t i = 0;
    while (i < field.size()) {
        if (field[i] == '.') ++i;
        if (field[i] == '[') {
            std::size_t close = field.find(']', i);
            std::size_t n = std::stoul(field.substr(i + 1, close - i - 1));
            if (!cur->is_array() || cur->size() <= n) return nullptr;
            cur = &(*cur)[n];
            i = close + 1;
            continue;
        }
        std::size_t end = field.find_first_of(".[", i);
        std::string key = field.substr(i, end == std::string::npos ? std::string::npos : end - i);
        if (!cur->is_object() || !cur->contains(key)) return nullptr;
        cur = &(*cur)[key];
        i = end == std::string::npos ? field.size() : end;
    }
    return cur;
}

std::string env_signature(const std::string& text) {
    auto parsed = isolated::parse_env_file(text);
    REQUIRE(parsed);
    std::string s;
    for (const auto& [k, v] : *parsed) s += k + "=" + v + ";";
    return s;
}

using Reader = std::function<std::optional<std::string>(const std::string&)>;
using TreeReader = std::function<std::string(const std::string&)>;

/// The image an app runs in the cluster: an image app's own (fully qualified, as the
/// export writes it), else the one --image gives (OPTION).
std::string image_of(const isolated::AppSpec& spec, const std::string& option) {
    return isoctl::parse_image_name(spec.rootfs.type == isolated::RootfsType::image ? spec.rootfs.image : option).str();
}

/// The canonical app file with what cannot be the same replaced by what must be:
/// files by their contents, the rootfs by the image it runs (IMAGE) and the read-only
/// root it gives, an unset stop signal (the image's) by SIGTERM, which a host or
/// directory app exported with --image comes back as.
json normalized(const isolated::AppSpec& spec, const std::vector<std::string>& lost, const Reader& read,
                const TreeReader& tree, bool host_paths, const std::string& image = "") {
    json j = isolated::app_spec_to_json(spec);
    bool ro = spec.security.readonly_rootfs.value_or(spec.rootfs.type == isolated::RootfsType::host) ||
              (spec.rootfs.type != isolated::RootfsType::host && spec.rootfs.writable == isolated::RootfsWritable::readonly);
    j["rootfs"] = image;
    if (j["stop"]["signal"].is_null()) j["stop"]["signal"] = "SIGTERM";
    // "hostname": "web" in web's file is the default written out
    if (spec.namespaces.uts.kind == isolated::NamespaceKind::private_) j["hostname"] = spec.effective_hostname();
    j["security"]["readonlyRootfs"] = ro;
    for (auto& s : j["secrets"]) s["source"] = read(s["source"].get<std::string>()).value_or("<missing>");
    for (auto& f : j["envFile"]) {
        std::string p = f.get<std::string>();
        bool optional = p[0] == '-';
        if (optional) p.erase(0, 1);
        auto text = read(p);
        f = (optional ? "-" : "") + (text ? env_signature(*text) : "<missing>");
    }
    if (!host_paths)
        for (auto& m : j["mounts"])
            if (m["type"] == "bind") {
                m["create"] = nullptr;  // a claim is provisioned: create is moot
                if (m["readonly"] == true) m["source"] = tree(m["source"].get<std::string>());
            }
    for (const auto& field : lost)
        if (json* v = at(j, field)) *v = nullptr;
    return j;
}

void round_trip(const std::string& dir, bool exact) {
    INFO(dir << (exact ? " with --host-paths --host-ports --include-secret-values" : " with the defaults"));
    auto loaded = isolated::load_app_dir(dir);
    REQUIRE(loaded.rejected.empty());
    REQUIRE_FALSE(loaded.apps.empty());
    RoundTripHost host;
    ExportOptions opt;
    // Image apps export their own image; the others need one.
    std::size_t image_apps = 0;
    for (const auto& [n, a] : loaded.apps) {
        if (a.rootfs.type == isolated::RootfsType::image)
            ++image_apps;
        else
            opt.images[n] = "registry.example/" + n + ":1";
    }
    if (dir.ends_with("corpus")) CHECK(image_apps >= 3);
    opt.host_paths = opt.host_ports = opt.include_secret_values = exact;
    auto exported = export_kube(loaded.apps, opt, host);
    REQUIRE(exported.errors.empty());

    // Through YAML text, as a user would pipe it.
    std::vector<Manifest> manifests;
    for (auto& doc : parse_yaml(to_yaml(exported.documents), "export.yaml")) manifests.push_back({"export.yaml", doc});
    auto imported = import_kube(manifests, {kOut});
    for (const auto& e : imported.errors) INFO("import error: " << e.to_string());
    REQUIRE(imported.errors.empty());

    std::set<std::string> before, after;
    for (const auto& [n, _] : loaded.apps) before.insert(n);
    for (const auto& [n, _] : imported.apps) after.insert(n);
    REQUIRE(before == after);

    std::map<std::string, std::string> written;
    for (const auto& f : imported.files) written[f.path] = f.content;
    auto read_imported = [&](const std::string& p) -> std::optional<std::string> {
        if (auto it = written.find(p); it != written.end()) return it->second;
        return std::nullopt;
    };
    auto tree_imported = [&](const std::string& p) {
        if (auto it = written.find(p); it != written.end()) return "file:" + it->second;
        std::string s;
        for (const auto& [path, content] : written)
            if (path.rfind(p + "/", 0) == 0) s += path.substr(p.size() + 1) + "=" + content + ";";
        return s;
    };
    auto read_original = [&](const std::string& p) -> std::optional<std::string> {
        std::string why;
        return host.read_file(p, why);
    };
    auto tree_original = [&](const std::string& p) {
        std::string why;
        auto t = host.read_tree(p, why);
        REQUIRE(t);
        if (t->single_file) return "file:" + t->files[0].content;
        std::string s;
        std::map<std::string, std::string> sorted;
        for (const auto& f : t->files) sorted[f.path] = f.content;
        for (const auto& [path, content] : sorted) s += path + "=" + content + ";";
        return s;
    };

    for (const auto& [name, spec] : loaded.apps) {
        std::vector<std::string> lost;
        for (const auto& w : exported.warnings)
            if (w.app == name) lost.push_back(w.field);
        const auto& back = imported.apps.at(name);
        // Every app comes back an image app, of the image it was exported with.
        CHECK(back.rootfs.type == isolated::RootfsType::image);
        std::string option = opt.images.count(name) ? opt.images.at(name) : "";
        json want = normalized(spec, lost, read_original, tree_original, exact, image_of(spec, option));
        json got = normalized(back, lost, read_imported, tree_imported, exact, image_of(back, ""));
        INFO("app " << name << "\nexported fields lost: " << json(lost).dump());
        CHECK(got.dump(2) == want.dump(2));
        // and the app file written is that spec
        auto reparsed = isolated::parse_app_text(name, imported.app_files.at(name).dump(), name + ".json");
        REQUIRE(reparsed.spec);
        CHECK(isolated::app_spec_to_json(*reparsed.spec) == isolated::app_spec_to_json(imported.apps.at(name)));
    }
}

}  // namespace

TEST_CASE("kube round trip: conf/apps and the corpus come back the same for everything that maps") {
    for (bool exact : {true, false}) {
        round_trip(kSource + "/conf/apps", exact);
        round_trip(kSource + "/tests/kube/corpus", exact);
    }
}

TEST_CASE("kube round trip: a field lost without a warning fails the comparison") {
    // The check above must be able to fail: drop a warning and the field shows up.
    auto loaded = isolated::load_app_dir(kSource + "/tests/kube/corpus");
    RoundTripHost host;
    ExportOptions opt;
    for (const auto& [n, _] : loaded.apps) opt.images[n] = "r/" + n;
    auto exported = export_kube(loaded.apps, opt, host);
    std::vector<Manifest> manifests;
    for (auto& doc : exported.documents) manifests.push_back({"x", doc});
    auto imported = import_kube(manifests, {kOut});
    const auto& spec = loaded.apps.at("lossy");
    auto none = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    auto no_tree = [](const std::string&) { return std::string(); };
    json want = normalized(spec, {}, none, no_tree, false);
    json got = normalized(imported.apps.at("lossy"), {}, none, no_tree, false);
    CHECK(want["resources"]["pids"] == 32);
    CHECK(got["resources"]["pids"].is_null());
    CHECK(want != got);
}
