#include "gotemplate/builtins.h"

#include <memory>

#include "common/clock.h"
#include "gocompat/duration.h"
#include "gocompat/number.h"
#include "gocompat/time.h"

namespace sluice::gotemplate::internal {

namespace {

using gocompat::Zone;

Time Now(const Context& ctx) {
  const Clock* clock = ctx.clock != nullptr ? ctx.clock : SystemClock::Default();
  return gocompat::TimeFromUnixNanos(clock->NowNanos());
}

bool UnixToTime(std::string_view epoch, Value* out, std::string* err) {
  int64_t i;
  if (gocompat::NumError e = gocompat::ParseInt(epoch, 10, &i); e != gocompat::NumError::kNone) {
    *err = "unable to parse time '" + std::string(epoch) +
           "': " + gocompat::NumErrorText("ParseInt", epoch, e);
    return false;
  }
  Time t;
  switch (epoch.size()) {
    case 5:
      t = gocompat::TimeFromUnix(WrapMul(i, 86400), 0);
      break;
    case 10:
      t = gocompat::TimeFromUnix(i, 0);
      break;
    case 13:
      t = gocompat::TimeFromUnix(0, WrapMul(i, 1000000));
      break;
    case 16:
      t = gocompat::TimeFromUnix(0, WrapMul(i, 1000));
      break;
    case 19:
      t = gocompat::TimeFromUnix(0, i);
      break;
    default:
      *err = "unable to parse time '" + std::string(epoch) + "': %!w(<nil>)";
      return false;
  }
  *out = Value::FromTime(t);
  return true;
}

}  // namespace

bool ApplyTimeFunc(Func id, std::span<const Value> a, const CallEnv& env, Value* out,
                   std::string* err) {
  auto str = [&](size_t k) { return a[k].str(); };
  auto owned = [&](std::string s) {
    *out = Value::Owned(std::move(s));
    return true;
  };
  switch (id) {
    case Func::kTimestamp:
      *out = Value::FromTime(gocompat::TimeFromUnixNanos(env.ctx.timestamp_ns));
      return true;
    case Func::kDuration: {
      int64_t ns;
      if (!gocompat::ParseDuration(str(0), &ns, err)) return false;
      *out = Value::Float(static_cast<double>(ns / 1000000000) +
                          static_cast<double>(ns % 1000000000) / 1e9);
      return true;
    }
    case Func::kUnixEpoch:
      return owned(std::to_string(a[0].time().sec));
    case Func::kUnixEpochMillis: {
      const Time& t = a[0].time();
      return owned(std::to_string(WrapAdd(WrapMul(t.sec, 1000), t.nsec / 1000000)));
    }
    case Func::kUnixEpochNanos: {
      const Time& t = a[0].time();
      return owned(std::to_string(WrapAdd(WrapMul(t.sec, 1000000000), t.nsec)));
    }
    case Func::kToDateInZone: {
      std::shared_ptr<const Zone> zone = Zone::Load(str(1));
      Time t;
      if (!gocompat::ParseTime(str(0), str(2), zone ? *zone : Zone::Utc(), &t)) t = Time();
      *out = Value::FromTime(t);
      return true;
    }
    case Func::kToDate: {
      Time t;
      if (!gocompat::ParseTime(str(0), str(1), Zone::Utc(), &t)) t = Time();
      *out = Value::FromTime(t);
      return true;
    }
    case Func::kUnixToTime:
      return UnixToTime(str(0), out, err);
    case Func::kDate: {
      Time t;
      switch (a[1].kind()) {
        case Kind::kTime:
          t = Zone::Utc().At(a[1].time().sec, a[1].time().nsec);
          break;
        case Kind::kInt:
        case Kind::kInt64:
          t = gocompat::TimeFromUnix(a[1].i(), 0);
          break;
        default:
          t = Now(env.ctx);  // sprig: anything else formats the current time
      }
      std::string r;
      gocompat::FormatTime(str(0), t, &r);
      return owned(std::move(r));
    }
    case Func::kNow:
      *out = Value::FromTime(Now(env.ctx));
      return true;
    default:
      break;
  }
  *err = "not a time function";
  return false;
}

}  // namespace sluice::gotemplate::internal
