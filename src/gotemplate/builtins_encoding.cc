#include "gotemplate/builtins.h"

#include "gotemplate/encoding.h"
#include "gotemplate/json.h"

namespace sluice::gotemplate::internal {

bool ApplyEncodingFunc(Func id, std::span<const Value> a, const CallEnv& env, Value* out,
                       std::string* err) {
  auto str = [&](size_t k) { return a[k].str(); };
  auto owned = [&](std::string s) {
    *out = Value::Owned(std::move(s));
    return true;
  };
  switch (id) {
    case Func::kUrldecode: {
      std::string r;
      if (!QueryUnescape(str(0), &r, err)) return false;
      return owned(std::move(r));
    }
    case Func::kUrlencode: {
      std::string r;
      QueryEscape(str(0), &r);
      return owned(std::move(r));
    }
    case Func::kB64enc: {
      std::string r;
      Base64Encode(str(0), &r);
      return owned(std::move(r));
    }
    case Func::kB64dec: {
      std::string r, e;
      if (!Base64Decode(str(0), &r, &e)) return owned(std::move(e));
      return owned(std::move(r));
    }
    case Func::kFromJson:
      *out = ParseJson(str(0));
      return true;
    default:
      break;
  }
  *err = "not an encoding function";
  return false;
}

}  // namespace sluice::gotemplate::internal
