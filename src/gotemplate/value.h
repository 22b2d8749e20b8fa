#pragma once

// Internal to the template engine: the dynamically typed values a template computes with.
//
// Go's text/template works on reflect.Values; a template here sees only the types that Loki's
// functions produce, so Value is a small tagged union. Int and Int64 stay distinct because Go
// does not convert between them when checking a function's parameters (`repeat (add 1 2) "x"`
// fails in Loki: add returns int64, repeat wants int).

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gocompat/time.h"

namespace sluice::gotemplate::internal {

using gocompat::Time;

enum class Kind : uint8_t {
  kNil,  // Go's invalid value / nil interface: prints "<no value>"
  kBool,
  kInt,    // Go int
  kInt64,  // Go int64 (sprig's integer math)
  kFloat,  // Go float64
  kString,
  kTime,
  kList,    // []interface{} (fromJson)
  kMap,     // map[string]interface{} (fromJson)
  kLabels,  // the template's data: the entry's labels, read through Context::label
};

class Value;
using List = std::vector<Value>;
using Map = std::vector<std::pair<std::string, Value>>;  // sorted by key, unique keys

class Value {
 public:
  Value() = default;
  static Value Bool(bool b) {
    Value v(Kind::kBool);
    v.num_.b = b;
    return v;
  }
  static Value Int(int64_t i) {
    Value v(Kind::kInt);
    v.num_.i = i;
    return v;
  }
  static Value Int64(int64_t i) {
    Value v(Kind::kInt64);
    v.num_.i = i;
    return v;
  }
  static Value Float(double f) {
    Value v(Kind::kFloat);
    v.num_.f = f;
    return v;
  }
  // Borrows `s`: the bytes must outlive the value (label values, the line, template literals).
  static Value View(std::string_view s) {
    Value v(Kind::kString);
    v.view_ = s;
    return v;
  }
  static Value Owned(std::string s) {
    Value v(Kind::kString);
    v.owned_ = true;
    v.str_ = std::move(s);
    return v;
  }
  static Value FromTime(const Time& t) {
    Value v(Kind::kTime);
    v.num_.t = TimeRaw{t.sec, t.nsec, t.offset, t.zone, t.zone_len};
    return v;
  }
  static Value FromList(std::shared_ptr<const List> l) {
    Value v(Kind::kList);
    v.coll_ = std::move(l);
    return v;
  }
  static Value FromMap(std::shared_ptr<const Map> m) {
    Value v(Kind::kMap);
    v.coll_ = std::move(m);
    return v;
  }
  static Value Labels() { return Value(Kind::kLabels); }

  Kind kind() const { return kind_; }
  bool is_nil() const { return kind_ == Kind::kNil; }
  bool b() const { return num_.b; }
  int64_t i() const { return num_.i; }
  double f() const { return num_.f; }
  std::string_view str() const { return owned_ ? std::string_view(str_) : view_; }
  // True when the string's bytes live in the value (so views of it die with it).
  bool owned() const { return owned_; }
  Time time() const {
    Time t;
    t.sec = num_.t.sec;
    t.nsec = num_.t.nsec;
    t.offset = num_.t.offset;
    t.zone = num_.t.zone;
    t.zone_len = num_.t.zone_len;
    return t;
  }
  const List& list() const { return *static_cast<const List*>(coll_.get()); }
  const Map& map() const { return *static_cast<const Map*>(coll_.get()); }

  // Makes a borrowed string own its bytes (before the borrowed storage goes away).
  void Own() {
    if (kind_ == Kind::kString && !owned_) {
      str_.assign(view_);
      owned_ = true;
    }
  }

 private:
  explicit Value(Kind k) : kind_(k) {}

  // Time's fields without its default initialisers, so that it fits the union.
  struct TimeRaw {
    int64_t sec;
    int32_t nsec;
    int32_t offset;
    std::array<char, 7> zone;
    uint8_t zone_len;
  };

  Kind kind_ = Kind::kNil;
  bool owned_ = false;
  union {
    bool b;
    int64_t i;
    double f;
    TimeRaw t;
  } num_{};
  std::string_view view_;
  std::string str_;
  std::shared_ptr<const void> coll_;  // the List or Map
};

// Go's type name of a value, as error messages print it ("string", "int64", "time.Time").
std::string_view GoTypeName(const Value& v);

}  // namespace sluice::gotemplate::internal
