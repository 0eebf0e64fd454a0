#include "daemon_backend.hpp"
#include "runtime/host_runtime.hpp"
#include "host/notify.hpp"
