#pragma once
#include "sys/file.hpp"
