#include "common/clock.h"

namespace sluice {

SystemClock* SystemClock::Default() {
  static SystemClock clock;
  return &clock;
}

}  // namespace sluice
