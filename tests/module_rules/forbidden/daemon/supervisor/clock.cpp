#include "host/notify.hpp"
#include "../runtime/host_runtime.hpp"
