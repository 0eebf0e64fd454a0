#include "sys/file.hpp"
#include <supervisor/runtime.hpp>
