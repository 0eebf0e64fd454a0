// isoctl validate [PATH]: the daemon's own parser and cross-file checks, offline.
#include <filesystem>
#include <system_error>

#include "commands/commands.hpp"
#include "isolated/app_parser.hpp"

namespace isoctl::commands {

namespace {

constexpr const char* kDefaultAppsDir = "/etc/isolated/apps";

std::string apps_word(std::size_t n) { return std::to_string(n) + (n == 1 ? " app" : " apps"); }

}  // namespace

int validate(const Invocation& inv, Context& ctx) {
    namespace fs = std::filesystem;
    const std::string path = inv.args.empty() ? kDefaultAppsDir : inv.args[0];

    std::error_code ec;
    auto st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
        auto why = ec ? ec : std::make_error_code(std::errc::no_such_file_or_directory);
        throw Failure(exit_code::failed, "cannot read " + path + ": " + why.message());
    }

    std::vector<std::string> valid;
    std::map<std::string, std::vector<isolated::Diagnostic>> rejected;
    if (fs::is_directory(st)) {
        isolated::AppDir dir = isolated::load_app_dir(path);
        for (const auto& [name, spec] : dir.apps) valid.push_back(name);
        rejected = std::move(dir.rejected);
    } else {
        isolated::ParsedApp parsed = isolated::parse_app_file(path);
        std::string name = fs::path(path).filename().string();
        if (name.size() > 5 && name.ends_with(".json")) name.resize(name.size() - 5);
        if (parsed.spec && parsed.errors.empty())
            valid.push_back(name);
        else
            rejected[name] = parsed.errors;
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
        ctx.out() << print_json(j);
    } else {
        for (const auto& [name, diags] : rejected) {
            if (diags.empty()) ctx.err() << name << ": rejected\n";
            for (const auto& d : diags) ctx.err() << d.to_string() << "\n";
        }
        ctx.err().flush();
        if (rejected.empty())
            ctx.out() << apps_word(valid.size()) << " OK\n";
        else
            ctx.out() << apps_word(valid.size() + rejected_apps) << ", " << rejected_apps << " rejected\n";
    }
    return rejected.empty() ? exit_code::ok : exit_code::failed;
}

}  // namespace isoctl::commands
