#include "cli.hpp"

#include <cctype>

#include "commands/commands.hpp"
#include "connection.hpp"
#include "isolated/app_spec.hpp"

namespace isoctl {

namespace {

const std::vector<OptionSpec> kActionOptions = {
    {"timeout", 0, "DUR",
     "stop, restart: the stop timeout for this call (\"10s\", \"2m\") instead of the app's stop.timeout; "
     "start: how long to wait for the app to come up"},
    {"no-wait", 0, "", "return once the daemon has accepted the request instead of when it has settled"},
    {"all", 0, "", "every defined app (stop: dependents before what they depend on)"},
};

std::vector<Verb> make_verbs() {
    return {
        {"status", "status [APP...]", "list apps, or show the named apps in detail",
         "Without APP, one line per app: NAME STATE READY PID UPTIME RESTARTS LAST-EXIT ADDRESS PORTS.\n"
         "With APP names, a detail view of each: state, pids, start time, restarts, last exit,\n"
         "probe results, limits and usage, recent events.\n"
         "-o json prints the daemon's document: {\"apps\": [...]}, or an array of app details.\n"
         "--watch shows it again every --interval until Ctrl-C: redrawn in place on a terminal\n"
         "(as watch(1) and top do), one after another otherwise.",
         {{"watch", 'w', "", "refresh every --interval until Ctrl-C"},
          {"interval", 0, "DUR", "time between refreshes with --watch (default 2s; \"500ms\", \"5s\", or seconds)"}},
         0, SIZE_MAX, commands::status},
        {"start", "start APP...|--all [--timeout DUR] [--no-wait]", "start apps and wait until they are up",
         "Starts each APP in the order given, waiting for each to come up -- ready when it has a\n"
         "startup or readiness probe, else running for 1 s without exiting -- and prints\n"
         "\"APP: STATE\". An exit, a backoff or no start within --timeout (default 90s) is a\n"
         "failure. A failing app does not stop the others; the exit code is the first failure's.\n"
         "--all starts every defined app, dependencies first.",
         kActionOptions, 0, SIZE_MAX, commands::start},
        {"stop", "stop APP...|--all [--timeout DUR] [--no-wait]", "stop apps and wait until they have stopped",
         "Stops each APP in the order given -- the apps that depend on it first -- with its stop\n"
         "signal, then SIGKILL after the stop timeout (--timeout overrides it for this call).\n"
         "Prints \"APP: stopped\". --all stops every\n"
         "defined app, dependents before the apps they depend on.",
         kActionOptions, 0, SIZE_MAX, commands::stop},
        {"restart", "restart APP...|--all [--timeout DUR] [--no-wait]", "restart apps",
         "Stops and starts each APP in the order given and prints \"APP: STATE\". Restarts asked\n"
         "for here are not counted in RESTARTS. --all restarts every defined app, dependencies first.",
         kActionOptions, 0, SIZE_MAX, commands::restart},
        {"inspect", "inspect APP", "show an app's effective definition",
         "Prints the definition the daemon runs APP with: the app file with every default filled\n"
         "in (user root, hostname = the app's name, readonlyRootfs from the rootfs type, probe\n"
         "timings, backoff, stop signal and timeout, ...). A key: value tree for people; -o json\n"
         "prints it as an app file that isoctl validate accepts. A field that is not set (no\n"
         "limit, no probe, an address from the pool) is shown as \"-\" (null in JSON).",
         {}, 1, 1, commands::inspect},
        {"reload", "reload", "re-read the apps directory and apply the changes",
         "Prints what was added, changed, removed and rejected; the rejected files' errors go\n"
         "to stderr. Exit code 1 if any file was rejected (the other apps are applied anyway).",
         {}, 0, 0, commands::reload},
        {"logs", "logs [-f] [-n N] [-t] [--since DUR|TIME] APP", "print an app's output",
         "Prints the app's output (stdout and stderr) as the daemon stored it. --since keeps the\n"
         "lines written since then: a duration back from now (\"10m\", \"1h30m\"), an RFC 3339 time\n"
         "(\"2026-11-23T19:00:00Z\", \"2026-11-23T20:00:00+01:00\") or Unix seconds; with -n, the last\n"
         "N of those; with -f, then the new lines (as docker logs).",
         {{"follow", 'f', "", "keep printing new output until Ctrl-C"},
          {"tail", 'n', "N", "only the last N lines (\"all\" for everything)"},
          {"since", 0, "DUR|TIME", "only lines written since then (\"10m\", \"2026-11-23T19:00:00Z\")"},
          {"timestamps", 't', "", "prefix each line with its time"}},
         1, 1, commands::logs},
        {"events", "events [-f] [--app APP]", "print state changes, probe results, restarts, OOM kills",
         "One line per event: TIME APP TYPE MESSAGE. -o json prints the daemon's NDJSON as is.",
         {{"follow", 'f', "", "keep printing new events until Ctrl-C"},
          {"app", 0, "APP", "only this app's events"}},
         0, 0, commands::events},
        {"validate", "validate [PATH] [--strict] [--config FILE]", "check app files without the daemon",
         "Checks one app file, or every *.json in a directory (default /etc/isolated/apps)\n"
         "including what spans files: duplicate host ports, dependsOn cycles and unknown names,\n"
         "app: references, and pinned addresses against the daemon's subnet (the subnet key of\n"
         "--config, default /etc/isolated/isolated.conf; 10.100.0.0/24 when that file is missing).\n"
         "Errors go to stderr as FILE:LINE: FIELD: MESSAGE; stdout gets \"N apps OK\" or\n"
         "\"N apps, M rejected\". Then, for the valid apps, what a start on this host would fail\n"
         "on, as \"warning: FILE:LINE: FIELD: MESSAGE\": a missing bind-mount source without\n"
         "create, a missing rootfs directory, a user or group not in the rootfs, an unreadable\n"
         "seccomp profile, a command not found in the rootfs. Needs no daemon. Exit code 1 if any\n"
         "file is rejected; warnings alone exit 0 unless --strict.",
         {{"strict", 0, "", "treat warnings as errors: such an app is rejected"},
          {"config", 0, "FILE", "the daemon's settings file, for its subnet (default /etc/isolated/isolated.conf)"}},
         0, 1, commands::validate},
        {"export", "export kube [APP...|DIR] [--image APP=REF]... [--pin] [--strict] [OPTIONS]",
         "write Kubernetes manifests for apps, without the daemon",
         "Reads app files as isoctl validate does -- every *.json of DIR, or the named APPs of\n"
         "--apps-dir (default /etc/isolated/apps), or one FILE.json -- and writes their\n"
         "Kubernetes manifests to stdout as multi-document YAML (-o json: one List). Apps joined\n"
         "by app:NAME are one Pod; restart always is a Deployment, on-failure and never a Job.\n"
         "Ports become a Service named after the app, read-only config directories ConfigMaps,\n"
         "other bind mounts PersistentVolumeClaims, envFile and secrets Secrets (without their\n"
         "values unless --include-secret-values). Everything that does not carry over is a\n"
         "warning on stderr, \"warning: APP: FIELD: MESSAGE\"; --strict makes any an error (exit 1,\n"
         "nothing written). An image app runs its own image (fully qualified, docker.io/library/\n"
         "for short names; --pin: name@sha256:DIGEST of its manifest, read from the daemon's\n"
         "image store); a host or directory app needs --image APP=REF. Needs no daemon.",
         {{"image", 0, "APP=REF", "the image APP's container runs (repeat for each app; written as given)"},
          {"pin", 0, "", "image apps' images by the manifest digest in the image store (name@sha256:...)"},
          {"config", 0, "FILE", "the daemon's settings file, for its state-dir's image store (default /etc/isolated/isolated.conf)"},
          {"apps-dir", 0, "DIR", "where named APPs are read from (default /etc/isolated/apps)"},
          {"service-type", 0, "TYPE", "ClusterIP (default), NodePort or LoadBalancer"},
          {"host-ports", 0, "", "keep host ports as the containers' hostPort"},
          {"host-paths", 0, "", "bind mounts as hostPath volumes (one-node clusters) instead of PVCs and ConfigMaps"},
          {"pvc-size", 0, "SIZE", "the storage each PersistentVolumeClaim requests (default 1Gi)"},
          {"storage-class", 0, "NAME", "the PersistentVolumeClaims' storageClassName (default: the cluster's)"},
          {"include-secret-values", 0, "", "put envFile and secrets values into the Secrets (root reads them)"},
          {"strict", 0, "", "any warning is an error"}},
         1, SIZE_MAX, commands::export_},
        {"import", "import kube FILE...|- [-o DIR] [--strict]", "write app files from Kubernetes manifests",
         "Reads Pods, Deployments, StatefulSets, Jobs, Services, ConfigMaps and Secrets from the\n"
         "YAML FILEs (- for stdin) and writes one app file per container to DIR (default: the\n"
         "current directory), with the files ConfigMaps hold under DIR/files/, Secrets' under\n"
         "DIR/secrets/ (mode 0600) and envFrom variables under DIR/env/. A Pod of several\n"
         "containers becomes apps joined with app:NAME. What has no place in an app file\n"
         "(replicas above 1, node selectors, init containers, ...) is a warning on stderr,\n"
         "\"warning: APP: FIELD: MESSAGE\"; --strict makes any an error. An app file that exists\n"
         "is not overwritten (exit 1, nothing written). Needs no daemon.",
         {{"output-dir", 'o', "DIR", "where to write (default: the current directory)"},
          {"strict", 0, "", "any warning is an error: nothing is written"}},
         2, SIZE_MAX, commands::import_},
        {"version", "version", "print isoctl's and the daemon's versions",
         "Prints isoctl's version, and the daemon's when it can be reached.", {}, 0, 0, commands::version},
        {"top", "top [APP...] [--interval DUR] [--no-stream]", "live CPU, memory and pids per app",
         "A table like docker stats, redrawn every --interval on a terminal (one table after\n"
         "another otherwise) until Ctrl-C: NAME STATE CPU % MEM USAGE / LIMIT MEM % PIDS RESTARTS.\n"
         "CPU % is the CPU time used between two polls over the time between them (100% = one\n"
         "core busy), so the first table comes after about a second. MEM is the working set\n"
         "(usage minus inactive file cache); LIMIT and MEM % are \"-\" without a memory limit.\n"
         "\"-\" is a figure the daemon does not know (the app is not running, or no cgroup driver).\n"
         "With APP names, only those apps. -o json prints one snapshot:\n"
         "{\"apps\": [{\"name\", \"state\", \"cpuPercent\", \"memoryBytes\", \"memoryLimitBytes\",\n"
         "\"memoryPercent\", \"pids\", \"restarts\"}]}.",
         {{"interval", 0, "DUR", "time between refreshes (default 2s; \"500ms\", \"5s\", or seconds)"},
          {"no-stream", 0, "", "print one table and exit"}},
         0, SIZE_MAX, commands::top},
        {"exec", "exec [-T] APP -- CMD...", "run a command inside an app's sandbox",
         "Runs CMD in APP's namespaces and root filesystem, as its user, with its capabilities and\n"
         "seccomp filter, on a new terminal when stdin is one. Exits with CMD's exit code\n"
         "(126/127 when it cannot be run). Needs root.",
         {{"no-tty", 'T', "", "never allocate a terminal"}}, 2, SIZE_MAX, commands::exec},
        {"kill", "kill [-s SIGNAL] [--all] APP...", "send a signal to apps",
         "Sends SIGNAL (default SIGTERM, as kill(1)) to each APP's main process -- its command --\n"
         "and prints \"APP: SIGNAL sent to the main process (pid N)\". With --all, to every\n"
         "process of each APP (as systemctl kill --kill-whom=all), isolated's own left out: the\n"
         "sandbox's init, which would pass it on to the app a second time. SIGNAL is a name with\n"
         "or without SIG (HUP, SIGHUP) or a number (1); -HUP, -SIGHUP and -1 are short for\n"
         "-s HUP. Nothing else happens: an exit the signal causes is handled by the app's restart\n"
         "policy. An app that is not running is an error. Each signal is an event (\"signal\").",
         {{"signal", 's', "SIGNAL", "the signal to send (default SIGTERM): HUP, SIGHUP or 1"},
          {"all", 0, "", "every process of each APP, not only its main process"}},
         0, SIZE_MAX, commands::kill, true},
        {"image", "image load FILE|DIR|- [--name REF] | pull REF [--authfile FILE] | ls | inspect REF | rm REF... | prune",
         "manage the image store",
         "load: stores the image(s) of an archive -- an OCI image layout (a directory or a tar of\n"
         "one, as skopeo copy oci: and oci-archive: write it) or a docker save / podman save\n"
         "file; - reads it from stdin. Layers may be tar, tar+gzip or tar+zstd. --name REF tags\n"
         "the image (needed when the archive does not name it). Every digest is verified and the\n"
         "layers are unpacked before the image appears. pull: fetches REF (busybox:1.36,\n"
         "ghcr.io/o/app@sha256:...) from its registry (docker.io by default), this host's\n"
         "platform of a multi-platform image, with the credentials of the daemon's auth file or\n"
         "of --authfile FILE (containers-auth.json(5)); a progress bar per layer on a terminal.\n"
         "ls: the images and their refs. inspect:\n"
         "an image's digests, size and config (entrypoint, cmd, env, workdir, user, stop\n"
         "signal). rm: removes refs; an image whose last ref goes is deleted with its unpacked\n"
         "tree and the blobs no other image uses (an image id removes the image). prune:\n"
         "removes images without refs and every unreferenced tree and blob.",
         {{"name", 0, "REF", "image load: tag the loaded image as REF (busybox:1, ghcr.io/o/app:2)"},
          {"authfile", 0, "FILE", "image pull: registry credentials from FILE instead of the daemon's"}},
         1, SIZE_MAX, commands::image},
        {"help", "help [COMMAND]", "show help for isoctl or one command", "", {}, 0, 1, commands::help},
    };
}

const OptionSpec* find_option(const std::vector<OptionSpec>& specs, std::string_view long_name, char short_name) {
    for (const auto& o : specs)
        if ((!long_name.empty() && o.long_name == long_name) || (short_name && o.short_name == short_name)) return &o;
    return nullptr;
}

std::string option_label(const OptionSpec& o) {
    std::string s = o.short_name ? std::string("-") + o.short_name + ", " : "    ";
    s += "--" + o.long_name;
    if (!o.value_name.empty()) s += " " + o.value_name;
    return s;
}

std::string option_lines(const std::vector<OptionSpec>& opts) {
    std::string out;
    for (const auto& o : opts) {
        std::string l = "  " + option_label(o);
        if (l.size() < 24) l.append(24 - l.size(), ' ');
        else l += "  ";
        out += l + o.help + "\n";
    }
    return out;
}

const char* kExitCodes =
    "Exit status:\n"
    "  0    success\n"
    "  1    the operation failed (daemon error, app failed to start, validation failed,\n"
    "       reload rejected files)\n"
    "  2    usage error\n"
    "  3    cannot reach the daemon\n"
    "  4    no such app\n"
    "  130  interrupted (Ctrl-C)\n";

}  // namespace

const std::vector<Verb>& verbs() {
    static const std::vector<Verb> v = make_verbs();
    return v;
}

const Verb* find_verb(std::string_view name) {
    for (const auto& v : verbs())
        if (v.name == name) return &v;
    return nullptr;
}

const std::vector<OptionSpec>& global_options() {
    static const std::vector<OptionSpec> g = {
        {"socket", 0, "PATH", std::string("the daemon's socket (default: $ISOCTL_SOCKET, else ") + kDefaultSocket + ")"},
        {"output", 'o', "FORMAT", "table (default) or json"},
        {"help", 'h', "", "show help"},
        {"version", 0, "", "print isoctl's version"},
    };
    return g;
}

std::optional<std::string> Invocation::value(const std::string& long_name) const {
    auto it = values.find(long_name);
    if (it == values.end()) return std::nullopt;
    return it->second;
}

Invocation parse_args(const std::vector<std::string>& args, const Environment& env) {
    Invocation inv;
    std::optional<std::string> socket;
    bool options_done = false;
    auto verb_name = [&] { return inv.verb ? std::string(inv.verb->name) : std::string(); };

    auto apply = [&](const OptionSpec& o, std::optional<std::string> value, bool global) {
        if (global) {
            if (o.long_name == "socket") {
                if (value->empty()) throw UsageError("--socket needs a path", verb_name());
                socket = *value;
            } else if (o.long_name == "output") {
                if (*value == "json")
                    inv.output = OutputFormat::json;
                else if (*value == "table")
                    inv.output = OutputFormat::table;
                else
                    throw UsageError("unknown output format \"" + *value + "\" (use json or table)", verb_name());
            } else if (o.long_name == "help") {
                inv.help = true;
            } else if (o.long_name == "version") {
                inv.version = true;
            }
            return;
        }
        if (value) {
            inv.values[o.long_name] = *value;
            inv.all_values[o.long_name].push_back(*value);
        } else
            inv.flags.insert(o.long_name);
    };

    auto lookup = [&](std::string_view long_name, char short_name, bool& global) -> const OptionSpec& {
        // A verb's own short option wins over a global one after the verb: import's -o DIR.
        if (inv.verb && short_name)
            if (auto* o = find_option(inv.verb->options, {}, short_name)) {
                global = false;
                return *o;
            }
        if (auto* o = find_option(global_options(), long_name, short_name)) {
            global = true;
            return *o;
        }
        if (inv.verb)
            if (auto* o = find_option(inv.verb->options, long_name, short_name)) {
                global = false;
                return *o;
            }
        std::string shown = short_name ? std::string("-") + short_name : "--" + std::string(long_name);
        if (inv.verb) throw UsageError("unknown option " + shown + " for \"" + inv.verb->name + "\"", inv.verb->name);
        throw UsageError("unknown option " + shown + " (options of a command come after it)");
    };

    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        // A verb that is not available yet takes everything as it is.
        bool raw = inv.verb && !inv.verb->run;
        if (!options_done && !raw && a == "--") {
            options_done = true;
            continue;
        }
        if (!options_done && !raw && inv.verb && inv.verb->dash_signal && a.size() > 1 && a[0] == '-' &&
            (std::isupper(static_cast<unsigned char>(a[1])) || std::isdigit(static_cast<unsigned char>(a[1])))) {
            inv.values["signal"] = a.substr(1);
            continue;
        }
        if (!options_done && !raw && a.size() > 1 && a[0] == '-') {
            if (a[1] == '-') {
                std::string body = a.substr(2);
                std::optional<std::string> inline_value;
                if (auto eq = body.find('='); eq != std::string::npos) {
                    inline_value = body.substr(eq + 1);
                    body.resize(eq);
                }
                bool global = false;
                const OptionSpec& o = lookup(body, 0, global);
                if (o.value_name.empty()) {
                    if (inline_value) throw UsageError("--" + o.long_name + " takes no value", verb_name());
                    apply(o, std::nullopt, global);
                } else if (inline_value) {
                    apply(o, inline_value, global);
                } else {
                    if (i + 1 >= args.size()) throw UsageError("--" + o.long_name + " needs a value", verb_name());
                    apply(o, args[++i], global);
                }
            } else {
                for (std::size_t k = 1; k < a.size(); ++k) {
                    bool global = false;
                    const OptionSpec& o = lookup({}, a[k], global);
                    if (o.value_name.empty()) {
                        apply(o, std::nullopt, global);
                        continue;
                    }
                    if (k + 1 < a.size()) {
                        apply(o, a.substr(k + 1), global);
                    } else {
                        if (i + 1 >= args.size())
                            throw UsageError(std::string("-") + a[k] + " needs a value", verb_name());
                        apply(o, args[++i], global);
                    }
                    break;
                }
            }
            continue;
        }
        if (!inv.verb) {
            inv.verb = find_verb(a);
            if (!inv.verb) throw UsageError("unknown command \"" + a + "\"");
            continue;
        }
        inv.args.push_back(a);
    }

    if (socket)
        inv.socket = *socket;
    else if (auto it = env.find("ISOCTL_SOCKET"); it != env.end() && !it->second.empty())
        inv.socket = it->second;
    else
        inv.socket = kDefaultSocket;

    if (inv.help || inv.version || !inv.verb || !inv.verb->run) return inv;
    const Verb& v = *inv.verb;
    if (inv.args.size() < v.min_args) throw UsageError("missing arguments: usage: isoctl " + v.synopsis, v.name);
    if (inv.args.size() > v.max_args) {
        throw UsageError(v.max_args == 0 ? "\"" + v.name + "\" takes no arguments"
                                         : "too many arguments: usage: isoctl " + v.synopsis,
                         v.name);
    }
    return inv;
}

void require_app_name(const std::string& name, const std::string& verb) {
    if (!isolated::is_valid_app_name(name))
        throw UsageError("\"" + name + "\" is not an app name (lower-case letters, digits and '-', at most 32)", verb);
}

std::string global_help() {
    std::string out =
        "Usage: isoctl [OPTIONS] COMMAND [ARGS...]\n"
        "\n"
        "Control the isolated supervisor daemon.\n"
        "\n"
        "Commands:\n";
    for (const auto& v : verbs()) {
        std::string l = "  " + v.synopsis;
        if (l.size() < 46) l.append(46 - l.size(), ' ');
        else l += "  ";
        out += l + v.summary + "\n";
    }
    out += "\nOptions (before or after the command):\n";
    out += option_lines(global_options());
    out += "\n";
    out += kExitCodes;
    out += "\nRun 'isoctl COMMAND --help' for a command's options.\n";
    return out;
}

std::string verb_help(const Verb& v) {
    std::string out = "Usage: isoctl " + v.synopsis + "\n\n" + v.summary + ".\n";
    if (!v.description.empty()) out += "\n" + v.description + "\n";
    if (!v.options.empty()) out += "\nOptions:\n" + option_lines(v.options);
    out += "\nGlobal options:\n" + option_lines(global_options());
    out += "\n";
    out += kExitCodes;
    return out;
}

Client& Context::client() {
    if (!client_) {
        transport_ = host_.connect(inv_.socket);
        client_ = std::make_unique<Client>(*transport_);
    }
    return *client_;
}

void Context::report(const std::string& message) {
    host_.out.flush();
    host_.err << "isoctl: " << message << "\n";
    host_.err.flush();
}

int run(const std::vector<std::string>& args, Host& host) {
    Invocation inv;
    try {
        inv = parse_args(args, host.env);
    } catch (const UsageError& e) {
        host.err << "isoctl: " << e.what() << "\n"
                 << "Try 'isoctl " << (e.verb().empty() ? "" : e.verb() + " ") << "--help'.\n";
        return exit_code::usage;
    }
    if (inv.help) {
        host.out << (inv.verb && inv.verb->name != "help" ? verb_help(*inv.verb) : global_help());
        return exit_code::ok;
    }
    if (inv.version) {
        host.out << "isoctl " << ISOLATED_VERSION << "\n";
        return exit_code::ok;
    }
    if (!inv.verb) {
        host.err << global_help();
        return exit_code::usage;
    }
    if (!inv.verb->run) {
        host.err << "isoctl: " << inv.verb->name << " is not yet available in this version of isoctl\n";
        return exit_code::usage;
    }

    auto env = [&](const char* k) -> const char* {
        auto it = host.env.find(k);
        return it == host.env.end() ? nullptr : it->second.c_str();
    };
    bool color = inv.output == OutputFormat::table && want_color(host.stdout_is_tty, env("NO_COLOR"), env("TERM"));
    Context ctx(host, inv, color);
    int rc;
    try {
        rc = inv.verb->run(inv, ctx);
    } catch (const UsageError& e) {
        host.out.flush();
        host.err << "isoctl: " << e.what() << "\n"
                 << "Try 'isoctl " << (e.verb().empty() ? "" : e.verb() + " ") << "--help'.\n";
        return exit_code::usage;
    } catch (const Failure& e) {
        if (*e.what()) ctx.report(e.what());
        return e.code();
    } catch (const Interrupted&) {
        host.out.flush();
        return exit_code::interrupted;
    } catch (const std::exception& e) {
        ctx.report(e.what());
        return exit_code::failed;
    }
    host.out.flush();
    return rc;
}

}  // namespace isoctl
