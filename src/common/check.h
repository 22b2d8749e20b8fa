#pragma once

#include <cstdio>
#include <cstdlib>

// SLUICE_CHECK guards invariants only: a failure is a bug in sluice, never bad user input,
// so it aborts loudly (with file and line) in every build type.
#define SLUICE_CHECK(cond)                                                          \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)
