# Checks the daemon's module rules (docs/ARCHITECTURE.md, "Modules and what they own"):
# a file of daemon/<module>/ may include its own module's headers, and another module's
# only as the allowed graph says. The graph is written once, in daemon/CMakeLists.txt
# (isolated_daemon_module() calls); the build writes it to a rules file and runs this
# script before it compiles any module, so a forbidden include fails the build whatever
# the link order (static libraries alone let an unlisted symbol through when another
# library on the link line happens to provide it).
#
#   cmake -DROOT=<the daemon dir> -DRULES=<rules file> [-DSTAMP=<file>] -P check-module-deps.cmake
#
# Rules file: one line per module, "<module> <allowed>...", where an allowed item is a
# module ("sys": any of its headers) or one header ("host/log.hpp"). Files at the top of
# ROOT (main.cpp, daemon_backend.*) are wiring: they may include anything, and no module
# may include them. A directory of ROOT that is not declared is an error (its files
# would be built into no library). STAMP is touched when everything passes.
cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED ROOT OR NOT DEFINED RULES)
  message(FATAL_ERROR "usage: cmake -DROOT=<daemon dir> -DRULES=<rules file> [-DSTAMP=<file>] -P check-module-deps.cmake")
endif()
cmake_path(ABSOLUTE_PATH ROOT NORMALIZE)
cmake_path(GET ROOT FILENAME root_name)

set(modules "")
file(STRINGS "${RULES}" rule_lines)
foreach(line IN LISTS rule_lines)
  string(REGEX REPLACE "#.*" "" line "${line}")
  string(STRIP "${line}" line)
  if(line STREQUAL "")
    continue()
  endif()
  separate_arguments(words UNIX_COMMAND "${line}")
  list(POP_FRONT words module)
  list(APPEND modules "${module}")
  set("allow_${module}" ${words})
endforeach()

set(errors "")

file(GLOB children LIST_DIRECTORIES true RELATIVE "${ROOT}" "${ROOT}/*")
foreach(child IN LISTS children)
  if(IS_DIRECTORY "${ROOT}/${child}" AND NOT child IN_LIST modules)
    list(APPEND errors "${root_name}/${child}/ is not a module of the build: declare it with isolated_daemon_module() in ${root_name}/CMakeLists.txt")
  endif()
endforeach()

foreach(module IN LISTS modules)
  file(GLOB_RECURSE files RELATIVE "${ROOT}"
    "${ROOT}/${module}/*.cpp" "${ROOT}/${module}/*.hpp" "${ROOT}/${module}/*.h" "${ROOT}/${module}/*.c"
    "${ROOT}/${module}/*.cc" "${ROOT}/${module}/*.hh" "${ROOT}/${module}/*.ipp" "${ROOT}/${module}/*.inc")
  foreach(file IN LISTS files)
    cmake_path(GET file PARENT_PATH file_dir)
    file(STRINGS "${ROOT}/${file}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
    foreach(include IN LISTS includes)
      if(NOT include MATCHES "^[ \t]*#[ \t]*include[ \t]*([<\"])([^>\"]+)[>\"]")
        continue()
      endif()
      set(kind "${CMAKE_MATCH_1}")
      set(name "${CMAKE_MATCH_2}")
      # The compiler's order: a quoted include is looked up beside the including file
      # first; both forms then in the include directories, of which ROOT is the one
      # that matters here. Anything not found under ROOT is a system or common/ header.
      set(resolved "")
      if(kind STREQUAL "\"" AND EXISTS "${ROOT}/${file_dir}/${name}")
        set(resolved "${ROOT}/${file_dir}/${name}")
      elseif(EXISTS "${ROOT}/${name}")
        set(resolved "${ROOT}/${name}")
      endif()
      if(resolved STREQUAL "")
        continue()
      endif()
      cmake_path(NORMAL_PATH resolved)
      cmake_path(RELATIVE_PATH resolved BASE_DIRECTORY "${ROOT}" OUTPUT_VARIABLE target)
      if(target MATCHES "^\\.\\./")
        continue()
      endif()
      if(NOT target MATCHES "/")
        list(APPEND errors "${root_name}/${file} includes ${target}: a module may not include the wiring (main.cpp, daemon_backend.*) (docs/ARCHITECTURE.md)")
        continue()
      endif()
      string(REGEX REPLACE "/.*" "" target_module "${target}")
      if(target_module STREQUAL module)
        continue()
      endif()
      if(target_module IN_LIST "allow_${module}" OR target IN_LIST "allow_${module}")
        continue()
      endif()
      set(headers "")
      foreach(item IN LISTS "allow_${module}")
        if(item MATCHES "^${target_module}/")
          list(APPEND headers "${item}")
        endif()
      endforeach()
      if(headers)
        list(JOIN headers ", " headers)
        list(APPEND errors "${root_name}/${file} includes ${target}: ${module} may use only ${headers} of ${target_module} (docs/ARCHITECTURE.md)")
      else()
        list(APPEND errors "${root_name}/${file} includes ${target}: ${module} may not use ${target_module} (docs/ARCHITECTURE.md)")
      endif()
    endforeach()
  endforeach()
endforeach()

if(errors)
  foreach(error IN LISTS errors)
    message(NOTICE "${error}")
  endforeach()
  list(LENGTH errors count)
  message(FATAL_ERROR "module rules: ${count} forbidden include(s) or undeclared module(s); the allowed graph is in ${root_name}/CMakeLists.txt")
endif()
if(DEFINED STAMP)
  file(TOUCH "${STAMP}")
endif()
