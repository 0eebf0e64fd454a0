// isoctl's entry point as a function: run(args, host) -> exit code. The host supplies
// the streams, the environment, the clock and how to reach the daemon, so the unit
// tests drive every verb with a fake transport and main.cpp only wires the real ones.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api_client.hpp"
#include "errors.hpp"
#include "interrupt.hpp"
#include "output.hpp"
#include "transport.hpp"

namespace isoctl {

using Environment = std::map<std::string, std::string>;
using TransportFactory = std::function<std::unique_ptr<Transport>(const std::string& socket_path)>;

enum class OutputFormat { table, json };

struct OptionSpec {
    std::string long_name;   ///< "follow" for --follow
    char short_name = 0;     ///< 'f' for -f; 0 = none
    std::string value_name;  ///< "N" when the option takes a value; "" = a flag
    std::string help;
};

struct Invocation;
class Context;
using VerbFn = int (*)(const Invocation&, Context&);

struct Verb {
    std::string name;
    std::string synopsis;      ///< "logs [-f] [-n N] [-t] APP"
    std::string summary;       ///< one line for the verb list
    std::string description;   ///< the paragraph of `isoctl VERB --help`
    std::vector<OptionSpec> options;
    std::size_t min_args = 0;
    std::size_t max_args = SIZE_MAX;
    VerbFn run = nullptr;      ///< nullptr = not yet available (exit 2)
    /// kill(1)'s shorthand: "-HUP", "-SIGHUP", "-9" stand for "--signal HUP" (an option
    /// that starts with an upper-case letter or a digit; no option does).
    bool dash_signal = false;
};

/// Every verb, in help order.
const std::vector<Verb>& verbs();
const Verb* find_verb(std::string_view name);
/// Options every verb accepts, before or after the verb.
const std::vector<OptionSpec>& global_options();

/// A parsed command line.
struct Invocation {
    std::string socket;                       ///< --socket, else $ISOCTL_SOCKET, else the default
    OutputFormat output = OutputFormat::table;
    bool help = false;                        ///< -h/--help anywhere
    bool version = false;                     ///< --version
    const Verb* verb = nullptr;
    std::vector<std::string> args;            ///< positional arguments after the verb
    std::map<std::string, std::string> values;  ///< verb options with a value, by long name (last wins)
    std::map<std::string, std::vector<std::string>> all_values;  ///< every value of each, in order (--image A=x --image B=y)
    std::set<std::string> flags;              ///< verb flags given, by long name

    bool flag(const std::string& long_name) const { return flags.count(long_name) != 0; }
    std::optional<std::string> value(const std::string& long_name) const;
};

/// Throws UsageError. Global options may come before or after the verb; verb options
/// after it; "--" ends option parsing; short flags bundle ("-ft", "-n5").
Invocation parse_args(const std::vector<std::string>& args, const Environment& env);

/// What the outside world gives run().
struct Host {
    std::ostream& out;
    std::ostream& err;
    bool stdout_is_tty = false;
    Environment env{};
    std::function<WallTime()> now = [] { return std::chrono::system_clock::now(); };
    /// Waits; throws Interrupted when Ctrl-C comes first (isoctl top between refreshes).
    std::function<void(std::chrono::milliseconds)> sleep = sleep_unless_interrupted;
    TransportFactory connect{};
};

/// What a verb works with.
class Context {
public:
    Context(Host& host, const Invocation& inv, bool color) : host_(host), inv_(inv), color_(color) {}
    std::ostream& out() { return host_.out; }
    std::ostream& err() { return host_.err; }
    bool color() const { return color_; }
    bool json() const { return inv_.output == OutputFormat::json; }
    WallTime now() const { return host_.now(); }
    void sleep(std::chrono::milliseconds d) { host_.sleep(d); }
    bool stdout_is_tty() const { return host_.stdout_is_tty; }
    /// Connects on first use, so verbs that need no daemon never touch the socket.
    Client& client();
    /// Prints "isoctl: <message>" to stderr (after flushing stdout, to keep the order).
    void report(const std::string& message);

private:
    Host& host_;
    const Invocation& inv_;
    bool color_;
    std::unique_ptr<Transport> transport_;
    std::unique_ptr<Client> client_;
};

int run(const std::vector<std::string>& args, Host& host);

/// `isoctl --help` and `isoctl VERB --help`.
std::string global_help();
std::string verb_help(const Verb& v);

/// Throws UsageError unless `name` is a valid app name.
void require_app_name(const std::string& name, const std::string& verb);

}  // namespace isoctl
