# `cmake --install`: the public headers (include/ripvec/*.hpp), every ripvec_* static library and
# the tree-sitter ones they link, the ripvec executable (apps/cli), and a CMake package plus a
# pkg-config file, so that a C++ program uses the library with either of
#   find_package(ripvec 0.1 REQUIRED)   target_link_libraries(app PRIVATE ripvec::ripvec)
#   c++ -std=c++20 app.cpp $(pkg-config --cflags --libs ripvec)
# Internal headers (src/) are not installed: include/ripvec/*.hpp include only each other and the
# standard library. Included last by the top-level CMakeLists.txt, after every target exists.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(RIPVEC_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/ripvec)

# The libraries behind ripvec_all, dependencies after their dependents (the order static
# libraries must be linked in): a depth-first walk of the link graph, emitted in reverse
# post-order. Non-target entries (plain library paths, flags) are collected separately.
function(_ripvec_visit t)
  if(t IN_LIST visited)
    return()
  endif()
  list(APPEND visited ${t})
  get_target_property(deps ${t} INTERFACE_LINK_LIBRARIES)
  if(NOT deps)
    set(deps "")
  endif()
  foreach(d IN LISTS deps)
    if(d MATCHES "^\\$<LINK_ONLY:(.*)>$")  # a static library's private dependency
      set(d "${CMAKE_MATCH_1}")
    endif()
    if(TARGET ${d})
      get_target_property(imported ${d} IMPORTED)
      if(imported)
        list(APPEND other ${d})
      else()
        _ripvec_visit(${d})
      endif()
    elseif(NOT d MATCHES "^\\$<")
      list(APPEND other ${d})
    endif()
  endforeach()
  list(PREPEND order ${t})
  set(visited ${visited} PARENT_SCOPE)
  set(other ${other} PARENT_SCOPE)
  set(order ${order} PARENT_SCOPE)
endfunction()
function(_ripvec_link_order target out_targets out_other)
  set(order "")
  set(other "")
  set(visited "")
  _ripvec_visit(${target})
  list(REMOVE_DUPLICATES other)
  set(${out_targets} ${order} PARENT_SCOPE)
  set(${out_other} ${other} PARENT_SCOPE)
endfunction()

_ripvec_link_order(ripvec_all _ripvec_libs _ripvec_ext)
list(REMOVE_ITEM _ripvec_libs ripvec_all)

# The sources' include/ and src/ (and third_party/_src) are for building ripvec only: they stay
# out of the exported targets, which get <prefix>/include instead (INCLUDES DESTINATION below).
foreach(t IN LISTS _ripvec_libs ITEMS ripvec_all)
  foreach(prop INTERFACE_INCLUDE_DIRECTORIES INTERFACE_SYSTEM_INCLUDE_DIRECTORIES)
    get_target_property(dirs ${t} ${prop})
    if(NOT dirs)
      continue()
    endif()
    set(fixed "")
    foreach(d IN LISTS dirs)
      if(d MATCHES "^\\$<" OR NOT IS_ABSOLUTE "${d}")
        list(APPEND fixed "${d}")
      else()
        list(APPEND fixed "$<BUILD_INTERFACE:${d}>")
      endif()
    endforeach()
    set_property(TARGET ${t} PROPERTY ${prop} "${fixed}")
  endforeach()
endforeach()

set_target_properties(ripvec_all PROPERTIES EXPORT_NAME ripvec)
add_library(ripvec::ripvec ALIAS ripvec_all)

install(TARGETS ripvec_all ${_ripvec_libs} EXPORT ripvecTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ripvec DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")
install(EXPORT ripvecTargets NAMESPACE ripvec:: DESTINATION ${RIPVEC_INSTALL_CMAKEDIR})

set(RIPVEC_CONFIG_CUDA ${RIPVEC_CUDA})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ripvecConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ripvecConfig.cmake INSTALL_DESTINATION ${RIPVEC_INSTALL_CMAKEDIR})
# 0.x: a minor version may break the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ripvecConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ripvecConfig.cmake ${PROJECT_BINARY_DIR}/ripvecConfigVersion.cmake
  DESTINATION ${RIPVEC_INSTALL_CMAKEDIR})

# pkg-config: the same libraries in link order, then what they need from the system.
set(_pc_libs "")
foreach(t IN LISTS _ripvec_libs)
  get_target_property(type ${t} TYPE)
  if(NOT type STREQUAL "INTERFACE_LIBRARY")
    string(APPEND _pc_libs " -l${t}")
  endif()
endforeach()
set(_pc_requires "")
set(_pc_ext_libs "")
foreach(d IN LISTS _ripvec_ext)
  if(d STREQUAL "Threads::Threads")
    string(APPEND _pc_ext_libs " -pthread")
  elseif(d STREQUAL "nlohmann_json::nlohmann_json")
    list(APPEND _pc_requires nlohmann_json)
  elseif(d STREQUAL "CURL::libcurl")
    list(APPEND _pc_requires libcurl)
  elseif(d STREQUAL "PkgConfig::UTF8PROC")
    list(APPEND _pc_requires libutf8proc)
  elseif(d MATCHES "^CUDA::(.*)$")
    get_target_property(loc ${d} IMPORTED_LOCATION)
    string(APPEND _pc_ext_libs " ${loc}")
  elseif(TARGET ${d})
    message(FATAL_ERROR "cmake/install.cmake: no pkg-config mapping for ${d}; add one")
  else()
    string(APPEND _pc_ext_libs " ${d}")
  endif()
endforeach()
list(JOIN _pc_requires ", " RIPVEC_PC_REQUIRES)
set(RIPVEC_PC_LIBS "${_pc_libs}${_pc_ext_libs}")
# Relocatable: the prefix is found from the .pc file's own location (cmake --install --prefix
# may put it anywhere).
file(RELATIVE_PATH RIPVEC_PC_PREFIX_FROM_PCFILEDIR /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" RIPVEC_PC_PREFIX_FROM_PCFILEDIR "${RIPVEC_PC_PREFIX_FROM_PCFILEDIR}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/ripvec.pc.in ${PROJECT_BINARY_DIR}/ripvec.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/ripvec.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
