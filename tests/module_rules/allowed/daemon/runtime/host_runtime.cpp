#include "runtime/host_runtime.hpp"
#include "../sys/file.hpp"
