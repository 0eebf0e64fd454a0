#pragma once
#include "supervisor/runtime.hpp"
#include "sys/file.hpp"
#include <vector>
