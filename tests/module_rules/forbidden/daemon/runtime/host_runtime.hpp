#pragma once
#include "supervisor/runtime.hpp"
