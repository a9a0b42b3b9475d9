// Placeholder entry point; the CLI owner replaces this file.
#include <cstdio>
int main() { std::fputs("ripvec: not built yet\n", stderr); return 2; }
