// Source files of the small real-looking repository that the CLI and MCP end-to-end tests index
// (a Python module and a Rust one; each test adds files of its own).
#pragma once

namespace ripvec::test {

inline constexpr const char* kPrimes = R"(def is_prime(n):
    """Return True when n has no divisor other than 1 and itself."""
    if n < 2:
        return False
    for d in range(2, int(n ** 0.5) + 1):
        if n % d == 0:
            return False
    return True


def fibonacci(count):
    """The first `count` Fibonacci numbers."""
    seq = [0, 1]
    while len(seq) < count:
        seq.append(seq[-1] + seq[-2])
    return seq[:count]
)";

inline constexpr const char* kRust = R"(use std::collections::HashMap;

/// Splits `key=value` lines into a map, skipping comments.
pub fn parse_settings(text: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') { continue; }
        if let Some((k, v)) = line.split_once('=') {
            map.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    map
}
)";

}  // namespace ripvec::test
