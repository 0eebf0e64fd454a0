#include "daemon_backend.hpp"
