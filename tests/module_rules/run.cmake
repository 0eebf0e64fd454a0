# The module rules' check on two fixture trees (tests/CMakeLists.txt runs this as a unit
# test): allowed/ holds only includes the graph in rules.txt allows (a used module or
# header, the module's own headers, a local include, a system or common/ header, the
# wiring including anything) and must pass; forbidden/ must fail, naming each forbidden
# include and nothing else.
#
#   cmake -DCHECK=scripts/check-module-deps.cmake -DFIXTURES=tests/module_rules -P run.cmake
cmake_minimum_required(VERSION 3.25)

execute_process(
  COMMAND ${CMAKE_COMMAND} -DROOT=${FIXTURES}/allowed/daemon -DRULES=${FIXTURES}/rules.txt -P ${CHECK}
  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "the check failed on allowed includes (exit ${result}):\n${out}${err}")
endif()

execute_process(
  COMMAND ${CMAKE_COMMAND} -DROOT=${FIXTURES}/forbidden/daemon -DRULES=${FIXTURES}/rules.txt -P ${CHECK}
  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(result EQUAL 0)
  message(FATAL_ERROR "the check passed forbidden includes:\n${out}${err}")
endif()
set(expected
  "daemon/extra/ is not a module of the build: declare it with isolated_daemon_module() in daemon/CMakeLists.txt"
  "daemon/sys/file.cpp includes supervisor/runtime.hpp: sys may not use supervisor (docs/ARCHITECTURE.md)"
  "daemon/supervisor/app.cpp includes runtime/host_runtime.hpp: supervisor may not use runtime (docs/ARCHITECTURE.md)"
  "daemon/supervisor/clock.cpp includes host/notify.hpp: supervisor may use only host/log.hpp of host (docs/ARCHITECTURE.md)"
  "daemon/supervisor/clock.cpp includes runtime/host_runtime.hpp: supervisor may not use runtime (docs/ARCHITECTURE.md)"
  "daemon/runtime/host_runtime.cpp includes daemon_backend.hpp: a module may not include the wiring (main.cpp, daemon_backend.*) (docs/ARCHITECTURE.md)")
foreach(line IN LISTS expected)
  string(FIND "${err}" "${line}\n" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the check did not report\n  ${line}\nit said:\n${err}")
  endif()
endforeach()
# Nothing else: one line per error, then the summary.
string(REGEX MATCHALL "daemon/[^\n]*\\(docs/ARCHITECTURE.md\\)\n|daemon/extra/[^\n]*\n" reported "${err}")
list(LENGTH reported count)
list(LENGTH expected want)
if(NOT count EQUAL want)
  message(FATAL_ERROR "the check reported ${count} errors, not ${want}:\n${err}")
endif()
string(FIND "${err}" "module rules: ${want} forbidden include(s)" at)
if(at EQUAL -1)
  message(FATAL_ERROR "no summary line:\n${err}")
endif()
