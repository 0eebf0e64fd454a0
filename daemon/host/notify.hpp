// sd_notify(3) to the service manager: READY=1, STATUS=, RELOADING=1, STOPPING=1.
// A no-op when not started by systemd (NOTIFY_SOCKET unset).
#pragma once

#include <string>

namespace isolated::host {

void notify(const std::string& state);

}  // namespace isolated::host
