// Errors that are a limit of the process or the system, not a property of the file they were
// about (too many open files, no memory), and the words that say so. A file the process could
// not open for lack of descriptors was reported as if the file were at fault, or taken for
// unreadable and dropped from an index (hostile probe 2026-12-07).
#pragma once

#include <string>

namespace ripvec {

// Whether errno value `err` is EMFILE, ENFILE or ENOMEM.
bool is_resource_errno(int err);

// What to add to such an error's text: which limit it is (" (a limit of this process, not of
// the file: `ulimit -n`)" for EMFILE); "" for any other errno. Thread-safe.
std::string process_limit_note(int err);

}  // namespace ripvec
