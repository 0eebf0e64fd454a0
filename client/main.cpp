// isoctl: wiring only. Everything else is in isoctl_core (cli.hpp: run()).
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "cli.hpp"
#include "connection.hpp"

extern char** environ;

int main(int argc, char** argv) {
    std::ios::sync_with_stdio(false);
    isoctl::Host host{std::cout, std::cerr};
    host.stdout_is_tty = isatty(STDOUT_FILENO) == 1;
    for (char** e = environ; e && *e; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string::npos) host.env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
    }
    // Leave SIGINT alone when our parent ignores it (nohup, background jobs of scripts).
    struct sigaction old {};
    sigaction(SIGINT, nullptr, &old);
    const bool catch_sigint = old.sa_handler != SIG_IGN;
    host.connect = [catch_sigint](const std::string& socket) {
        return std::make_unique<isoctl::UnixSocketTransport>(socket, catch_sigint);
    };

    int rc = isoctl::run(std::vector<std::string>(argv + 1, argv + argc), host);
    std::cout.flush();
    std::cerr.flush();
    if (rc == isoctl::exit_code::interrupted) {
        // Die of SIGINT like an uncaught Ctrl-C, so a calling shell or script stops too
        // (it still sees status 130).
        std::signal(SIGINT, SIG_DFL);
        std::raise(SIGINT);
    }
    return rc;
}
