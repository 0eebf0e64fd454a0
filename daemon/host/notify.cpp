#include "host/notify.hpp"

#include <systemd/sd-daemon.h>

namespace isolated::host {

void notify(const std::string& state) { (void)sd_notify(/*unset_environment=*/0, state.c_str()); }

}  // namespace isolated::host
