#include "supervisor/runtime.hpp"
#include "runtime.hpp"
#include "host/log.hpp"
#  include <supervisor/runtime.hpp>
// #include "runtime/host_runtime.hpp" (a comment)
