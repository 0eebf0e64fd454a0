// isoctl validate [PATH]: the daemon's own parser and cross-file checks, offline, plus
// what only this host can tell (host_checks.hpp) as warnings.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "commands/commands.hpp"
#include "host_checks.hpp"
#include "isolated/app_parser.hpp"

namespace isoctl::commands {

namespace {

constexpr const char* kDefaultAppsDir = "/etc/isolated/apps";
constexpr const char* kDefaultConfig = "/etc/isolated/isolated.conf";

std::string apps_word(std::size_t n) { return std::to_string(n) + (n == 1 ? " app" : " apps"); }

}  // namespace

// The daemon's settings file: the subnet pinned addresses are checked against, and the
// state dir whose image store image apps are looked up in. "" when there is no file
// (validating on another machine: the defaults). An explicit --config must be readable.
std::string daemon_config(const Invocation& inv) {
    auto given = inv.value("config");
    std::string path = given.value_or(kDefaultConfig);
    std::ifstream in(path);
    if (!in) {
        if (given) throw Failure(exit_code::failed, "cannot read " + path + ": " + std::strerror(errno));
        return "";
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

int validate(const Invocation& inv, Context& ctx) {
    namespace fs = std::filesystem;
    const std::string path = inv.args.empty() ? kDefaultAppsDir : inv.args[0];
    const bool strict = inv.flag("strict");

    std::error_code ec;
    auto st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
        auto why = ec ? ec : std::make_error_code(std::errc::no_such_file_or_directory);
        throw Failure(exit_code::failed, "cannot read " + path + ": " + why.message());
    }
    isolated::LoadOptions options;
    const std::string config = daemon_config(inv);
    options.subnet = subnet_of_config(config);
    const std::string state_dir = state_dir_of_config(config);

    std::map<std::string, isolated::AppSpec> accepted;
    std::map<std::string, std::vector<isolated::Diagnostic>> rejected;
    if (fs::is_directory(st)) {
        isolated::AppDir dir = isolated::load_app_dir(path, options);
        accepted = std::move(dir.apps);
        rejected = std::move(dir.rejected);
    } else {
        isolated::ParsedApp parsed = isolated::parse_app_file(path, options);
        std::string name = fs::path(path).filename().string();
        if (name.size() > 5 && name.ends_with(".json")) name.resize(name.size() - 5);
        if (parsed.spec && parsed.errors.empty())
            accepted.emplace(name, std::move(*parsed.spec));
        else
            rejected[name] = parsed.errors;
    }

    // What a start would fail on here. With --strict an app with warnings is rejected.
    std::map<std::string, std::vector<isolated::Diagnostic>> warnings;
    std::vector<std::string> valid;
    for (const auto& [name, spec] : accepted) {
        auto w = host_warnings(spec);
        for (auto& d : image_warnings(spec, state_dir)) w.push_back(std::move(d));
        if (w.empty()) {
            valid.push_back(name);
        } else if (strict) {
            rejected[name] = std::move(w);
        } else {
            valid.push_back(name);
            warnings[name] = std::move(w);
        }
    }

    // Diagnostics under "" concern the directory itself, not one app.
    std::size_t rejected_apps = 0;
    for (const auto& [name, diags] : rejected)
        if (!name.empty()) ++rejected_apps;

    if (ctx.json()) {
        nlohmann::ordered_json j;
        j["valid"] = valid;
        j["rejected"] = nlohmann::ordered_json::array();
        for (const auto& [name, diags] : rejected) {
            std::vector<std::string> errors;
            for (const auto& d : diags) errors.push_back(d.to_string());
            j["rejected"].push_back({{"name", name}, {"errors", errors}});
        }
        j["warnings"] = nlohmann::ordered_json::array();
        for (const auto& [name, diags] : warnings) {
            std::vector<std::string> texts;
            for (const auto& d : diags) texts.push_back(d.to_string());
            j["warnings"].push_back({{"name", name}, {"warnings", texts}});
        }
        ctx.out() << print_json(j);
    } else {
        for (const auto& [name, diags] : rejected) {
            if (diags.empty()) ctx.err() << name << ": rejected\n";
            for (const auto& d : diags) ctx.err() << d.to_string() << "\n";
        }
        for (const auto& [name, diags] : warnings)
            for (const auto& d : diags) ctx.err() << "warning: " << d.to_string() << "\n";
        ctx.err().flush();
        if (rejected.empty())
            ctx.out() << apps_word(valid.size()) << " OK\n";
        else
            ctx.out() << apps_word(valid.size() + rejected_apps) << ", " << rejected_apps << " rejected\n";
    }
    return rejected.empty() ? exit_code::ok : exit_code::failed;
}

}  // namespace isoctl::commands
