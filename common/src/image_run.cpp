#include "isolated/image_run.hpp"

#include <algorithm>

#include "isolated/units.hpp"

namespace isolated {
namespace {

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

// NAME, UID, UID:GID or NAME:GROUP, as the app file's `user` (a hostile config must not
// bring anything else to the passwd lookup).
bool is_user(const std::string& s) {
    auto part = [](std::string_view p) {
        return !p.empty() && p.size() <= 64 && std::all_of(p.begin(), p.end(), [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '$';
               });
    };
    auto colon = s.find(':');
    if (colon == std::string::npos) return part(s);
    return part(std::string_view(s).substr(0, colon)) && part(std::string_view(s).substr(colon + 1));
}

}  // namespace

Result<AppSpec> image_run_spec(const AppSpec& spec, const ImageConfigInfo& config, const std::string& rootfs) {
    AppSpec run = spec;
    run.args.clear();
    if (spec.rootfs.type != RootfsType::image) {
        run.command.insert(run.command.end(), spec.args.begin(), spec.args.end());
        return run;
    }
    const std::string what = "image \"" + spec.rootfs.image + "\"";

    if (!spec.command.empty()) {
        run.command.insert(run.command.end(), spec.args.begin(), spec.args.end());
    } else {
        run.command = config.entrypoint.value_or(std::vector<std::string>{});
        const auto& rest = spec.args.empty() ? config.cmd.value_or(std::vector<std::string>{}) : spec.args;
        run.command.insert(run.command.end(), rest.begin(), rest.end());
        if (run.command.empty())
            return Error::msg(what + " has neither Entrypoint nor Cmd: set \"command\" in the app file");
        if (run.command.front().empty()) return Error::msg(what + ": its Entrypoint/Cmd starts with an empty program");
        for (const auto& a : run.command)
            if (has_nul(a)) return Error::msg(what + ": its Entrypoint/Cmd holds a NUL byte");
    }

    // The image's variables first; the app file's win.
    std::map<std::string, std::string> env;
    for (const auto& kv : config.env) {
        auto eq = kv.find('=');
        if (eq == 0 || eq == std::string::npos || has_nul(kv)) continue;  // not a variable: Docker drops it too
        env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : spec.env) env[k] = v;
    run.env = std::move(env);

    if (run.workdir.empty()) {
        const std::string& wd = config.working_dir;
        if (has_nul(wd)) return Error::msg(what + ": its WorkingDir holds a NUL byte");
        run.workdir = wd.empty() ? "/" : wd.front() == '/' ? wd : "/" + wd;
    }

    if (run.user.empty() && !config.user.empty()) {
        if (!is_user(config.user))
            return Error::msg(what + ": its User \"" + config.user + "\" is not NAME, UID, UID:GID or NAME:GROUP");
        run.user = config.user;
    }

    if (run.stop.signal == 0) {
        run.stop.signal = 15;
        if (!config.stop_signal.empty()) {
            auto sig = parse_signal(config.stop_signal);
            if (!sig) return Error::msg(what + ": its StopSignal: " + signal_error(config.stop_signal));
            run.stop.signal = *sig;
        }
    }

    run.rootfs.type = RootfsType::directory;
    run.rootfs.path = rootfs;
    return run;
}

}  // namespace isolated
