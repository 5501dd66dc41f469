#pragma once
// Invariant checks for the fuzz targets: a broken invariant prints what broke
// and aborts, which libFuzzer reports as a crash (and the corpus replay as a
// failed test), with or without sanitizers and under any compiler.

#include <cstdio>
#include <cstdlib>

#define HERALD_FUZZ_CHECK(cond, ...)                                              \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n  ", __FILE__, __LINE__, \
                   #cond);                                                        \
      std::fprintf(stderr, __VA_ARGS__);                                          \
      std::fprintf(stderr, "\n");                                                 \
      std::abort();                                                               \
    }                                                                             \
  } while (0)
