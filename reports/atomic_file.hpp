#pragma once
// Writing files so that a reader never sees half of one: write a temporary file next to the target,
// flush it, then rename it over the target. An earlier file survives any failure.
#include <string>

namespace opbench::reports {

// Throws UsageError naming the path when its folder does not exist or is not writable. Called
// before a run starts, so a bad --json path costs nothing.
void check_writable(const std::string& path);

// Writes `contents` to `path` atomically; throws UsageError on failure (the target is untouched).
void write_file_atomically(const std::string& path, const std::string& contents);

}  // namespace opbench::reports
