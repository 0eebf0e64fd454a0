#include "host/log.hpp"
#include "runtime/host_runtime.hpp"
