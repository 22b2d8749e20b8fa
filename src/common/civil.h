#pragma once

// The proleptic Gregorian calendar, as Go's time package counts it: days since 1970-01-01 and
// back (Howard Hinnant's algorithms). Both RFC3339 handling here in common and Go's time layouts
// (gocompat/time.h) build on these.

#include <cstdint>

namespace sluice {

// Days since 1970-01-01 of a date. The month may be out of [1, 12] and the day out of its month;
// both are normalised as Go's time.Date does (month 13 of 1970 is January 1971).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d);
// The date `days` after 1970-01-01: *m in [1, 12], *d in [1, 31].
void CivilFromDays(int64_t days, int64_t* y, int* m, int* d);

}  // namespace sluice
