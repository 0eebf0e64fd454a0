#pragma once
#include <sys/types.h>
#include "isolated/result.hpp"
