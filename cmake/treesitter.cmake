# tree-sitter runtime + grammars, compiled from the sources pinned in third_party/grammars.lock.
# Sets RIPVEC_TREESITTER_TARGETS (linked into ripvec_chunk) and, on the targets, the compile
# definitions RIPVEC_HAVE_TREESITTER=1 and RIPVEC_TS_<LANG>=1 for each grammar built.
#
# Sources live in third_party/_src (git-ignored). When they are missing or older than the lock
# file, configure runs scripts/fetch_grammars.sh (needs python3 and PyPI once; later runs are offline).
# -DRIPVEC_TREESITTER=OFF builds the chunker without grammars (line windows only).

option(RIPVEC_TREESITTER "Build tree-sitter grammars for code-aware chunking" ON)
set(RIPVEC_TREESITTER_TARGETS "")
if(NOT RIPVEC_TREESITTER)
  message(STATUS "tree-sitter: disabled (RIPVEC_TREESITTER=OFF); chunking uses line windows only")
  return()
endif()

set(_ts_src ${PROJECT_SOURCE_DIR}/third_party/_src)
set(_ts_lock ${PROJECT_SOURCE_DIR}/third_party/grammars.lock)
set(_ts_fetch ${PROJECT_SOURCE_DIR}/scripts/fetch_grammars.sh)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_ts_lock})

file(SHA256 ${_ts_lock} _ts_lock_sha)
set(_ts_have_sha "")
if(EXISTS ${_ts_src}/.lock-sha256)
  file(STRINGS ${_ts_src}/.lock-sha256 _ts_have_sha LIMIT_COUNT 1)
endif()
if(NOT _ts_have_sha STREQUAL _ts_lock_sha)
  message(STATUS "tree-sitter: sources missing or stale, running ${_ts_fetch}")
  execute_process(COMMAND bash ${_ts_fetch} RESULT_VARIABLE _ts_rc)
  if(NOT _ts_rc EQUAL 0)
    message(FATAL_ERROR
      "tree-sitter sources could not be fetched (scripts/fetch_grammars.sh exited ${_ts_rc}). "
      "Run scripts/fetch_grammars.sh by hand (it needs python3 and access to PyPI once), or set "
      "RIPVEC_GRAMMAR_CACHE to a folder holding the sdists listed in third_party/grammars.lock, "
      "or configure with -DRIPVEC_TREESITTER=OFF to chunk by line windows only.")
  endif()
endif()

# Generated parsers are huge tables: optimise them even in Debug, keep them free of warnings
# noise, debug info and sanitizer instrumentation (they are not our code and ASan on 500k-line
# tables only slows the build). The runtime keeps the project's flags, sanitizers included.
set(_ts_grammar_opts -O2 -g0 -w -fno-sanitize=all)

set(_ts_rt ${_ts_src}/tree-sitter/lib)
if(NOT EXISTS ${_ts_rt}/src/lib.c)
  message(FATAL_ERROR "tree-sitter runtime missing: ${_ts_rt}/src/lib.c (run scripts/fetch_grammars.sh --force)")
endif()
add_library(ripvec_ts_runtime STATIC ${_ts_rt}/src/lib.c)
target_include_directories(ripvec_ts_runtime SYSTEM PUBLIC ${_ts_rt}/include)
target_include_directories(ripvec_ts_runtime PRIVATE ${_ts_rt}/src ${_ts_rt}/src/wasm)
target_compile_definitions(ripvec_ts_runtime PRIVATE _POSIX_C_SOURCE=200112L _DEFAULT_SOURCE)
target_compile_options(ripvec_ts_runtime PRIVATE -O2 -w)
set_target_properties(ripvec_ts_runtime PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON
  POSITION_INDEPENDENT_CODE ON)
target_compile_definitions(ripvec_ts_runtime INTERFACE RIPVEC_HAVE_TREESITTER=1)
list(APPEND RIPVEC_TREESITTER_TARGETS ripvec_ts_runtime)

# ABI window of this runtime, checked against every grammar's LANGUAGE_VERSION below.
file(STRINGS ${_ts_rt}/include/tree_sitter/api.h _ts_abi REGEX "^#define TREE_SITTER_LANGUAGE_VERSION ")
file(STRINGS ${_ts_rt}/include/tree_sitter/api.h _ts_abi_min
  REGEX "^#define TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION ")
string(REGEX REPLACE ".* ([0-9]+)$" "\\1" _ts_abi "${_ts_abi}")
string(REGEX REPLACE ".* ([0-9]+)$" "\\1" _ts_abi_min "${_ts_abi_min}")

set(RIPVEC_TS_LANGUAGES python javascript typescript tsx go rust java c cpp ruby bash
  kotlin swift scala csharp php hcl markdown json toml xml CACHE STRING
  "tree-sitter grammars to build (a subset saves build time and binary size; files of the others are chunked by line windows)")
set(_ts_langs ${RIPVEC_TS_LANGUAGES})
set(_ts_abis "")
foreach(lang IN LISTS _ts_langs)
  set(dir ${_ts_src}/grammars/${lang}/src)
  if(NOT EXISTS ${dir}/parser.c)
    message(FATAL_ERROR "tree-sitter grammar '${lang}' missing: ${dir}/parser.c (run scripts/fetch_grammars.sh --force)")
  endif()
  file(STRINGS ${dir}/parser.c abi REGEX "^#define LANGUAGE_VERSION " LIMIT_COUNT 1)
  string(REGEX REPLACE ".* ([0-9]+)$" "\\1" abi "${abi}")
  if(abi LESS _ts_abi_min OR abi GREATER _ts_abi)
    message(FATAL_ERROR "tree-sitter grammar '${lang}' has ABI ${abi}; the runtime accepts ${_ts_abi_min}..${_ts_abi}")
  endif()
  list(APPEND _ts_abis "${lang}:${abi}")
  set(srcs ${dir}/parser.c)
  file(STRINGS ${dir}/parser.c needs_scanner REGEX "_external_scanner_create" LIMIT_COUNT 1)
  if(EXISTS ${dir}/scanner.c)
    list(APPEND srcs ${dir}/scanner.c)
  elseif(needs_scanner)
    message(FATAL_ERROR "tree-sitter grammar '${lang}' uses an external scanner but ${dir}/scanner.c is missing")
  endif()
  add_library(ripvec_ts_${lang} STATIC ${srcs})
  target_include_directories(ripvec_ts_${lang} PRIVATE ${dir})
  # Replace (not append to) the directory-level options, dropping sanitizers and -Wall noise.
  set_property(TARGET ripvec_ts_${lang} PROPERTY COMPILE_OPTIONS ${_ts_grammar_opts})
  set_target_properties(ripvec_ts_${lang} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON
    POSITION_INDEPENDENT_CODE ON)
  string(TOUPPER ${lang} LANG)
  target_compile_definitions(ripvec_ts_${lang} INTERFACE RIPVEC_TS_${LANG}=1)
  list(APPEND RIPVEC_TREESITTER_TARGETS ripvec_ts_${lang})
endforeach()
message(STATUS "tree-sitter: runtime ABI ${_ts_abi_min}..${_ts_abi}; grammars ${_ts_abis}")
