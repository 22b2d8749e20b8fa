#include "gotemplate/exec.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <new>
#include <span>

#include "gotemplate/builtins.h"
#include "gotemplate/cast.h"
#include "gotemplate/encoding.h"
#include "gotemplate/gofmt.h"

namespace sluice::gotemplate::internal {

namespace {

// {{template}} calls nested deeper than this fail (Go allows 100000; the stack here is smaller).
constexpr int kMaxTemplateDepth = 100;
// Nested bodies and pipelines across all active {{template}} calls: bounds the C++ stack, since
// each called template may itself nest up to the parser's limit.
constexpr int kMaxExecNesting = 300;  // about 1 KB of stack each

// Values constructed in place: a few inline (no heap, and no constructing unused slots), the
// rest on the heap.
template <size_t N>
class ValueBuf {
 public:
  ValueBuf() = default;
  ValueBuf(const ValueBuf&) = delete;
  ValueBuf& operator=(const ValueBuf&) = delete;
  ~ValueBuf() {
    for (size_t k = 0; k < std::min(n_, N); ++k) Inline(k)->~Value();
  }
  void Add(Value v) {
    if (!big_ && n_ < N) {
      new (Inline(n_)) Value(std::move(v));
      ++n_;
      return;
    }
    if (!big_) {
      heap_.reserve(n_ + 4);
      for (size_t k = 0; k < n_; ++k) heap_.push_back(std::move(*Inline(k)));
      big_ = true;
    }
    heap_.push_back(std::move(v));
    ++n_;
  }
  size_t size() const { return n_; }
  Value& operator[](size_t k) { return big_ ? heap_[k] : *Inline(k); }
  const Value& operator[](size_t k) const { return big_ ? heap_[k] : *Inline(k); }
  std::span<const Value> span() const {
    return big_ ? std::span<const Value>(heap_) : std::span<const Value>(Inline(0), n_);
  }

 private:
  Value* Inline(size_t k) { return std::launder(reinterpret_cast<Value*>(buf_)) + k; }
  const Value* Inline(size_t k) const {
    return std::launder(reinterpret_cast<const Value*>(buf_)) + k;
  }

  alignas(Value) unsigned char buf_[N * sizeof(Value)];
  std::vector<Value> heap_;
  size_t n_ = 0;
  bool big_ = false;
};

// Evaluated call arguments.
using Args = ValueBuf<4>;

// A template invocation's variables ($ is slot 0).
class Frame {
 public:
  explicit Frame(int n) {
    for (int k = 0; k < n; ++k) vars_.Add(Value());
  }
  Value& operator[](int k) { return vars_[static_cast<size_t>(k)]; }

 private:
  ValueBuf<4> vars_;
};

enum class Flow : uint8_t { kNormal, kBreak, kContinue };

enum class Cls : uint8_t { kNil, kBool, kInt, kFloat, kString, kOther };

Cls Classify(const Value& v) {
  switch (v.kind()) {
    case Kind::kNil:
      return Cls::kNil;
    case Kind::kBool:
      return Cls::kBool;
    case Kind::kInt:
    case Kind::kInt64:
      return Cls::kInt;
    case Kind::kFloat:
      return Cls::kFloat;
    case Kind::kString:
      return Cls::kString;
    default:
      return Cls::kOther;
  }
}

// Go's isTrue.
bool Truth(const Value& v) {
  switch (v.kind()) {
    case Kind::kNil:
      return false;
    case Kind::kBool:
      return v.b();
    case Kind::kInt:
    case Kind::kInt64:
      return v.i() != 0;
    case Kind::kFloat:
      return v.f() != 0;
    case Kind::kString:
      return !v.str().empty();
    case Kind::kList:
      return !v.list().empty();
    case Kind::kMap:
      return !v.map().empty();
    case Kind::kTime:
    case Kind::kLabels:
      return true;
  }
  return false;
}

std::string Describe(const Value& v) {
  std::string s;
  AppendValue(v, &s);
  return s;
}

bool Eq(const Value& a, std::span<const Value> rest, bool* out, std::string* err) {
  if (rest.empty()) {
    *err = "missing argument for comparison";
    return false;
  }
  Cls ca = Classify(a);
  for (const Value& b : rest) {
    Cls cb = Classify(b);
    bool truth = false;
    if (ca != cb) {
      if (ca != Cls::kNil && cb != Cls::kNil) {
        *err = "incompatible types for comparison";
        return false;
      }
    } else {
      switch (ca) {
        case Cls::kNil:
          truth = true;
          break;
        case Cls::kBool:
          truth = a.b() == b.b();
          break;
        case Cls::kInt:
          truth = a.i() == b.i();
          break;
        case Cls::kFloat:
          truth = a.f() == b.f();
          break;
        case Cls::kString:
          truth = a.str() == b.str();
          break;
        case Cls::kOther:
          if (a.kind() == Kind::kTime && b.kind() == Kind::kTime) {
            truth = a.time() == b.time();
          } else if (a.kind() != b.kind()) {
            *err = "incompatible types for comparison";
            return false;
          } else {
            *err = "non-comparable type " + Describe(b) + ": " + std::string(GoTypeName(b));
            return false;
          }
          break;
      }
    }
    if (truth) {
      *out = true;
      return true;
    }
  }
  *out = false;
  return true;
}

bool Lt(const Value& a, const Value& b, bool* out, std::string* err) {
  Cls ca = Classify(a), cb = Classify(b);
  auto basic = [](Cls c) { return c != Cls::kNil && c != Cls::kOther; };
  if (!basic(ca) || !basic(cb)) {
    *err = "invalid type for comparison";
    return false;
  }
  if (ca != cb) {
    *err = "incompatible types for comparison";
    return false;
  }
  switch (ca) {
    case Cls::kInt:
      *out = a.i() < b.i();
      return true;
    case Cls::kFloat:
      *out = a.f() < b.f();
      return true;
    case Cls::kString:
      *out = a.str() < b.str();
      return true;
    default:
      *err = "invalid type for comparison";
      return false;
  }
}

class Exec {
 public:
  Exec(const Program& prog, const Context& ctx, std::string* out)
      : prog_(prog), ctx_(ctx), out_(out) {}

  Status Run() {
    const TemplateDef& main = prog_.templates[0];
    tmpl_name_ = main.name;
    Frame frame(main.num_vars);
    Value dot = Value::Labels();
    frame[0] = dot;
    return Walk(main.root, dot, frame);
  }

 private:
  Status ErrAt(std::string_view src, uint32_t pos, const std::string& msg) const {
    int line, col;
    LineCol(prog_.source, pos, &line, &col);
    return Status::InvalidArgument("template: " + prog_.name + ":" + std::to_string(line) + ":" +
                                   std::to_string(col) + ": executing \"" + tmpl_name_ + "\" at <" +
                                   std::string(src) + ">: " + msg);
  }
  Status ErrAt(const Arg& a, const std::string& msg) const { return ErrAt(a.src, a.pos, msg); }
  Status ErrAt(const Command& c, const std::string& msg) const { return ErrAt(c.src, c.pos, msg); }

  Status Step(const Node& n) {
    if (++steps_ > Template::kMaxSteps) {
      return ErrAt(std::string_view(), n.pos,
                   "template execution exceeded " + std::to_string(Template::kMaxSteps) + " steps");
    }
    return Status::OK();
  }

  Status CheckOutput(uint32_t pos) const {
    if (out_->size() > Template::kMaxOutputBytes) {
      return ErrAt(
          std::string_view(), pos,
          "template output exceeds " + std::to_string(Template::kMaxOutputBytes) + " bytes");
    }
    return Status::OK();
  }

  // Counts one level of nesting for the scope of a Walk or EvalPipe.
  class Nest {
   public:
    explicit Nest(int* n) : n_(n) { ++*n_; }
    ~Nest() { --*n_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;
    bool too_deep() const { return *n_ > kMaxExecNesting; }

   private:
    int* n_;
  };

  Status TooDeep(uint32_t pos) const {
    return ErrAt(std::string_view(), pos,
                 "exceeded maximum nesting depth (" + std::to_string(kMaxExecNesting) + ")");
  }

  Status Walk(const std::vector<Node>& list, const Value& dot, Frame& f) {
    Nest nest(&nesting_);
    if (nest.too_deep()) return TooDeep(list.empty() ? 0 : list[0].pos);
    for (const Node& n : list) {
      SLUICE_RETURN_IF_ERROR(WalkNode(n, dot, f));
      if (flow_ != Flow::kNormal) break;
    }
    return Status::OK();
  }

  Status WalkNode(const Node& n, const Value& dot, Frame& f) {
    SLUICE_RETURN_IF_ERROR(Step(n));
    switch (n.kind) {
      case NodeKind::kText:
        out_->append(n.text);
        return CheckOutput(n.pos);
      case NodeKind::kAction: {
        Value v;
        SLUICE_RETURN_IF_ERROR(EvalPipe(*n.pipe, dot, f, &v));
        if (!n.pipe->decl.empty()) return Status::OK();
        return Print(v, *n.pipe);
      }
      case NodeKind::kIf:
      case NodeKind::kWith: {
        Value v;
        SLUICE_RETURN_IF_ERROR(EvalPipe(*n.pipe, dot, f, &v));
        if (Truth(v)) return Walk(n.list, n.kind == NodeKind::kWith ? v : dot, f);
        return Walk(n.else_list, dot, f);
      }
      case NodeKind::kRange:
        return Range(n, dot, f);
      case NodeKind::kTemplate:
        return CallTemplate(n, dot, f);
      case NodeKind::kBreak:
        flow_ = Flow::kBreak;
        return Status::OK();
      case NodeKind::kContinue:
        flow_ = Flow::kContinue;
        return Status::OK();
    }
    return Status::OK();
  }

  // {{template "name" pipeline}}. Kept out of WalkNode so that its frame stays small.
  [[gnu::noinline]] Status CallTemplate(const Node& n, const Value& dot, Frame& f) {
    int idx = prog_.Find(n.text);
    if (idx < 0) return ErrAt(n.text, n.pos, "template \"" + n.text + "\" not defined");
    if (depth_ >= kMaxTemplateDepth) {
      return ErrAt(n.text, n.pos,
                   "exceeded maximum template depth (" + std::to_string(kMaxTemplateDepth) + ")");
    }
    Value new_dot;
    if (n.pipe) SLUICE_RETURN_IF_ERROR(EvalPipe(*n.pipe, dot, f, &new_dot));
    const TemplateDef& def = prog_.templates[static_cast<size_t>(idx)];
    Frame frame(def.num_vars);
    frame[0] = new_dot;
    std::string saved = std::move(tmpl_name_);
    tmpl_name_ = def.name;
    ++depth_;
    Status st = Walk(def.root, new_dot, frame);
    --depth_;
    tmpl_name_ = std::move(saved);
    return st;
  }

  Status Print(const Value& v, const Pipe& at) {
    switch (v.kind()) {
      case Kind::kNil:
        out_->append("<no value>");
        break;
      case Kind::kString:
        out_->append(v.str());
        break;
      case Kind::kLabels:
        return ErrAt(at.cmds.back().src, at.pos, "printing the label map (.) is not supported");
      default:
        AppendValue(v, out_);
    }
    return CheckOutput(at.pos);
  }

  Status Range(const Node& n, const Value& dot, Frame& f) {
    Value v;
    SLUICE_RETURN_IF_ERROR(EvalPipe(*n.pipe, dot, f, &v));
    const std::vector<int>& decl = n.pipe->decl;
    bool stop = false;
    auto one = [&](Value index, Value elem) -> Status {
      SLUICE_RETURN_IF_ERROR(Step(n));
      if (decl.size() == 1) {
        f[decl[0]] = elem;
      } else if (decl.size() >= 2) {
        f[decl[0]] = std::move(index);
        f[decl[1]] = elem;
      }
      SLUICE_RETURN_IF_ERROR(Walk(n.list, elem, f));
      if (flow_ == Flow::kBreak) stop = true;
      flow_ = Flow::kNormal;
      return Status::OK();
    };
    const Command& at = n.pipe->cmds.back();
    switch (v.kind()) {
      case Kind::kList: {
        if (v.list().empty()) break;
        for (size_t k = 0; k < v.list().size() && !stop; ++k) {
          SLUICE_RETURN_IF_ERROR(one(Value::Int(static_cast<int64_t>(k)), v.list()[k]));
        }
        return Status::OK();
      }
      case Kind::kMap: {
        if (v.map().empty()) break;
        for (size_t k = 0; k < v.map().size() && !stop; ++k) {
          SLUICE_RETURN_IF_ERROR(one(Value::Owned(v.map()[k].first), v.map()[k].second));
        }
        return Status::OK();
      }
      case Kind::kInt:
      case Kind::kInt64: {
        if (decl.size() > 1) {
          return ErrAt(at, "can't use " + Describe(v) + " to iterate over more than one variable");
        }
        if (v.i() <= 0) break;
        for (int64_t k = 0; k < v.i() && !stop; ++k) {
          Value iv = v.kind() == Kind::kInt ? Value::Int(k) : Value::Int64(k);
          SLUICE_RETURN_IF_ERROR(one(iv, iv));
        }
        return Status::OK();
      }
      case Kind::kNil:
        break;
      case Kind::kLabels:
        return ErrAt(at, "ranging over the label map (.) is not supported");
      default:
        return ErrAt(at, "range can't iterate over " + Describe(v));
    }
    return Walk(n.else_list, dot, f);
  }

  Status EvalPipe(const Pipe& p, const Value& dot, Frame& f, Value* out) {
    Nest nest(&nesting_);
    if (nest.too_deep()) return TooDeep(p.pos);
    Value v;
    bool have = false;
    for (const Command& c : p.cmds) {
      Value r;
      SLUICE_RETURN_IF_ERROR(EvalCommand(c, dot, f, have ? &v : nullptr, &r));
      v = std::move(r);
      have = true;
    }
    for (int slot : p.decl) f[slot] = v;
    *out = std::move(v);
    return Status::OK();
  }

  Status NotAFunction(const Arg& first, bool has_args) const {
    if (has_args) {
      return ErrAt(first, "can't give argument to non-function " + std::string(first.src));
    }
    return Status::OK();
  }

  Status Ideal(const Arg& a, Value* out) const {
    if (a.num.prefer_float) {
      *out = Value::Float(a.num.f);
    } else if (a.num.is_int) {
      *out = Value::Int(a.num.i);
    } else {
      return ErrAt(a, std::string(a.src) + " overflows int");
    }
    return Status::OK();
  }

  Status EvalCommand(const Command& c, const Value& dot, Frame& f, const Value* final, Value* out) {
    if (++steps_ > Template::kMaxSteps) {
      return ErrAt(c,
                   "template execution exceeded " + std::to_string(Template::kMaxSteps) + " steps");
    }
    const Arg& first = c.args[0];
    bool has_args = c.args.size() > 1 || final != nullptr;
    switch (first.kind) {
      case ArgKind::kField:
        return FieldChain(dot, first.fields, has_args, first, out);
      case ArgKind::kVariable:
        if (first.fields.empty()) {
          SLUICE_RETURN_IF_ERROR(NotAFunction(first, has_args));
          *out = f[first.var];
          return Status::OK();
        }
        return FieldChain(f[first.var], first.fields, has_args, first, out);
      case ArgKind::kPipe: {
        Value v;
        SLUICE_RETURN_IF_ERROR(EvalPipe(*first.pipe, dot, f, &v));
        if (first.fields.empty()) {
          SLUICE_RETURN_IF_ERROR(NotAFunction(first, has_args));
          *out = std::move(v);
          return Status::OK();
        }
        return FieldChain(v, first.fields, has_args, first, out);
      }
      case ArgKind::kIdentifier:
        return Call(first, std::span<const Arg>(c.args).subspan(1), &c, dot, f, final, out);
      default:
        break;
    }
    SLUICE_RETURN_IF_ERROR(NotAFunction(first, has_args));
    switch (first.kind) {
      case ArgKind::kBool:
        *out = Value::Bool(first.b);
        return Status::OK();
      case ArgKind::kDot:
        *out = dot;
        return Status::OK();
      case ArgKind::kNil:
        return ErrAt(first, "nil is not a command");
      case ArgKind::kNumber:
        return Ideal(first, out);
      case ArgKind::kString:
        *out = Value::View(first.str);
        return Status::OK();
      default:
        return Status::OK();
    }
  }

  Status FieldChain(const Value& base, const std::vector<std::string>& fields, bool has_args,
                    const Arg& at, Value* out) {
    Value cur = base;
    for (size_t k = 0; k < fields.size(); ++k) {
      const std::string& name = fields[k];
      bool last = k + 1 == fields.size();
      switch (cur.kind()) {
        case Kind::kLabels: {
          if (last && has_args) return ErrAt(at, name + " is not a method but has arguments");
          std::optional<std::string_view> v;
          if (ctx_.label) v = ctx_.label(name);
          cur = Value::View(v.value_or(std::string_view()));
          break;
        }
        case Kind::kMap: {
          if (last && has_args) return ErrAt(at, name + " is not a method but has arguments");
          const Map& m = cur.map();
          auto it = std::lower_bound(
              m.begin(), m.end(), name,
              [](const auto& kv, const std::string& key) { return kv.first < key; });
          Value next = (it != m.end() && it->first == name) ? it->second : Value();
          cur = std::move(next);
          break;
        }
        case Kind::kNil:
          return ErrAt(at, "nil pointer evaluating interface {}." + name);
        default:
          return ErrAt(at,
                       "can't evaluate field " + name + " in type " + std::string(GoTypeName(cur)));
      }
    }
    *out = std::move(cur);
    return Status::OK();
  }

  // Go's validateType: a computed value passed to a parameter.
  Status Validate(const Value& v, Param p, const Arg& at) const {
    if (p == Param::kAny) return Status::OK();
    if (v.is_nil()) {
      return ErrAt(at, "invalid value; expected " + std::string(ParamTypeName(p)));
    }
    bool ok = false;
    switch (p) {
      case Param::kString:
        ok = v.kind() == Kind::kString;
        break;
      case Param::kInt:
        ok = v.kind() == Kind::kInt;
        break;
      case Param::kFloat:
        ok = v.kind() == Kind::kFloat;
        break;
      case Param::kBool:
        ok = v.kind() == Kind::kBool;
        break;
      case Param::kTime:
        ok = v.kind() == Kind::kTime;
        break;
      case Param::kAny:
        ok = true;
        break;
    }
    if (!ok) {
      return ErrAt(at, "wrong type for value; expected " + std::string(ParamTypeName(p)) +
                           "; got " + std::string(GoTypeName(v)));
    }
    return Status::OK();
  }

  // Go's evalArg.
  Status EvalArg(const Arg& a, Param p, const Value& dot, Frame& f, Value* out) {
    switch (a.kind) {
      case ArgKind::kDot:
        *out = dot;
        return Validate(*out, p, a);
      case ArgKind::kNil:
        if (p == Param::kAny) {
          *out = Value();
          return Status::OK();
        }
        return ErrAt(a, "cannot assign nil to " + std::string(ParamTypeName(p)));
      case ArgKind::kField:
        SLUICE_RETURN_IF_ERROR(FieldChain(dot, a.fields, false, a, out));
        return Validate(*out, p, a);
      case ArgKind::kVariable:
        if (a.fields.empty()) {
          *out = f[a.var];
        } else {
          SLUICE_RETURN_IF_ERROR(FieldChain(f[a.var], a.fields, false, a, out));
        }
        return Validate(*out, p, a);
      case ArgKind::kPipe: {
        Value v;
        SLUICE_RETURN_IF_ERROR(EvalPipe(*a.pipe, dot, f, &v));
        if (a.fields.empty()) {
          *out = std::move(v);
        } else {
          SLUICE_RETURN_IF_ERROR(FieldChain(v, a.fields, false, a, out));
        }
        return Validate(*out, p, a);
      }
      case ArgKind::kIdentifier:
        SLUICE_RETURN_IF_ERROR(Call(a, {}, nullptr, dot, f, nullptr, out));
        return Validate(*out, p, a);
      default:
        break;
    }
    // A literal: converted to the parameter's type as Go does for constants.
    switch (p) {
      case Param::kBool:
        if (a.kind == ArgKind::kBool) {
          *out = Value::Bool(a.b);
          return Status::OK();
        }
        return ErrAt(a, "expected bool; found " + std::string(a.src));
      case Param::kString:
        if (a.kind == ArgKind::kString) {
          *out = Value::View(a.str);
          return Status::OK();
        }
        return ErrAt(a, "expected string; found " + std::string(a.src));
      case Param::kInt:
        if (a.kind == ArgKind::kNumber && a.num.is_int) {
          *out = Value::Int(a.num.i);
          return Status::OK();
        }
        return ErrAt(a, "expected integer; found " + std::string(a.src));
      case Param::kFloat:
        if (a.kind == ArgKind::kNumber && a.num.is_float) {
          *out = Value::Float(a.num.f);
          return Status::OK();
        }
        return ErrAt(a, "expected float; found " + std::string(a.src));
      case Param::kTime:
        return ErrAt(a, "can't handle " + std::string(a.src) + " for arg of type time.Time");
      case Param::kAny:
        switch (a.kind) {
          case ArgKind::kBool:
            *out = Value::Bool(a.b);
            return Status::OK();
          case ArgKind::kNumber:
            return Ideal(a, out);
          case ArgKind::kString:
            *out = Value::View(a.str);
            return Status::OK();
          default:
            return Status::OK();
        }
    }
    return Status::OK();
  }

  // Calls the function `fn` with `args` (and the piped `final`). `cmd` is the whole command,
  // or null for a function used as an argument (called without arguments).
  Status Call(const Arg& fn, std::span<const Arg> args, const Command* cmd, const Value& dot,
              Frame& f, const Value* final, Value* out) {
    const FuncSig& sig = FuncInfo(fn.func);
    std::string_view name = fn.src.substr(0, fn.src.find('.'));
    size_t nargs = args.size();
    size_t num_in = nargs + (final ? 1 : 0);
    auto at_err = [&](const std::string& msg) { return cmd ? ErrAt(*cmd, msg) : ErrAt(fn, msg); };
    if (sig.variadic) {
      if (num_in < sig.num_fixed) {
        return at_err("wrong number of args for " + std::string(name) + ": want at least " +
                      std::to_string(sig.num_fixed) + " got " + std::to_string(nargs));
      }
    } else if (num_in != sig.num_fixed) {
      return at_err("wrong number of args for " + std::string(name) + ": want " +
                    std::to_string(sig.num_fixed) + " got " + std::to_string(num_in));
    }
    if (sig.id == Func::kAnd || sig.id == Func::kOr) {
      bool is_or = sig.id == Func::kOr;
      Value ans;
      for (const Arg& a : args) {
        SLUICE_RETURN_IF_ERROR(EvalArg(a, Param::kAny, dot, f, &ans));
        if (Truth(ans) == is_or) {
          *out = std::move(ans);
          return Status::OK();
        }
      }
      *out = final ? *final : std::move(ans);
      return Status::OK();
    }
    Args av;
    for (size_t k = 0; k < nargs; ++k) {
      Param p = k < sig.num_fixed ? sig.fixed[k] : sig.rest;
      Value v;
      SLUICE_RETURN_IF_ERROR(EvalArg(args[k], p, dot, f, &v));
      av.Add(std::move(v));
    }
    if (final) {
      Param p;
      if (sig.variadic) {
        p = num_in - 1 < sig.num_fixed ? sig.fixed[num_in - 1] : sig.rest;
      } else {
        p = sig.fixed[sig.num_fixed - 1];
      }
      SLUICE_RETURN_IF_ERROR(Validate(*final, p, cmd ? cmd->args[0] : fn));
      av.Add(*final);
    }
    std::string err;
    if (!Apply(sig.id, av, cmd, out, &err)) {
      return at_err("error calling " + std::string(name) + ": " + err);
    }
    if (out->kind() == Kind::kString && out->str().size() > Template::kMaxOutputBytes) {
      return at_err("error calling " + std::string(name) + ": result exceeds " +
                    std::to_string(Template::kMaxOutputBytes) + " bytes");
    }
    return Status::OK();
  }

  static bool NoLabels(const Args& a, std::string* err) {
    for (const Value& v : a.span()) {
      if (v.kind() == Kind::kLabels) {
        *err = "printing the label map (.) is not supported";
        return false;
      }
    }
    return true;
  }

  // The arguments of html, js and urlquery as one string (Go's evalArgs).
  static bool EvalArgsString(const Args& a, std::string* s, std::string* err) {
    if (a.size() == 1 && a[0].kind() == Kind::kString) {
      s->assign(a[0].str());
      return true;
    }
    if (!NoLabels(a, err)) return false;
    Args printable;
    for (const Value& v : a.span()) {
      printable.Add(v.is_nil() ? Value::View("<no value>") : v);
    }
    Sprint(printable.span(), s);
    return true;
  }

  static bool IndexArg(const Value& idx, size_t cap, int64_t* x, std::string* err) {
    if (idx.kind() == Kind::kInt || idx.kind() == Kind::kInt64) {
      *x = idx.i();
    } else if (idx.is_nil()) {
      *err = "cannot index slice/array with nil";
      return false;
    } else {
      *err = "cannot index slice/array with type " + std::string(GoTypeName(idx));
      return false;
    }
    if (*x < 0 || static_cast<uint64_t>(*x) > cap) {
      *err = "index out of range: " + std::to_string(*x);
      return false;
    }
    return true;
  }

  bool Index(const Args& a, Value* out, std::string* err) const {
    Value item = a[0];
    if (item.is_nil()) {
      *err = "index of untyped nil";
      return false;
    }
    for (size_t k = 1; k < a.size(); ++k) {
      const Value& idx = a[k];
      switch (item.kind()) {
        case Kind::kString:
        case Kind::kList: {
          size_t len = item.kind() == Kind::kString ? item.str().size() : item.list().size();
          int64_t x;
          if (!IndexArg(idx, len, &x, err)) return false;
          if (static_cast<size_t>(x) == len) {
            *err = "reflect: slice index out of range";
            return false;
          }
          if (item.kind() == Kind::kString) {
            item = Value::Int(static_cast<unsigned char>(item.str()[static_cast<size_t>(x)]));
          } else {
            Value next = item.list()[static_cast<size_t>(x)];
            item = std::move(next);
          }
          break;
        }
        case Kind::kMap:
        case Kind::kLabels: {
          if (idx.kind() != Kind::kString) {
            if (idx.is_nil()) {
              *err = "value is nil; should be of type string";
            } else {
              *err = "value has type " + std::string(GoTypeName(idx)) + "; should be string";
            }
            return false;
          }
          if (item.kind() == Kind::kLabels) {
            std::optional<std::string_view> v;
            if (ctx_.label) v = ctx_.label(idx.str());
            item = Value::View(v.value_or(std::string_view()));
          } else {
            const Map& m = item.map();
            auto it = std::lower_bound(
                m.begin(), m.end(), idx.str(),
                [](const auto& kv, std::string_view key) { return kv.first < key; });
            Value next = (it != m.end() && it->first == idx.str()) ? it->second : Value();
            item = std::move(next);
          }
          break;
        }
        case Kind::kNil:
          *err = "index of nil pointer";
          return false;
        default:
          *err = "can't index item of type " + std::string(GoTypeName(item));
          return false;
      }
    }
    *out = std::move(item);
    return true;
  }

  static bool Slice(const Args& a, Value* out, std::string* err) {
    const Value& item = a[0];
    if (item.is_nil()) {
      *err = "slice of untyped nil";
      return false;
    }
    size_t nidx = a.size() - 1;
    if (nidx > 3) {
      *err = "too many slice indexes: " + std::to_string(nidx);
      return false;
    }
    size_t len;
    if (item.kind() == Kind::kString) {
      if (nidx == 3) {
        *err = "cannot 3-index slice a string";
        return false;
      }
      len = item.str().size();
    } else if (item.kind() == Kind::kList) {
      len = item.list().size();
    } else {
      *err = "can't slice item of type " + std::string(GoTypeName(item));
      return false;
    }
    int64_t idx[3] = {0, static_cast<int64_t>(len), static_cast<int64_t>(len)};
    for (size_t k = 0; k < nidx; ++k) {
      if (!IndexArg(a[k + 1], len, &idx[k], err)) return false;
    }
    if (idx[0] > idx[1]) {
      *err = "invalid slice index: " + std::to_string(idx[0]) + " > " + std::to_string(idx[1]);
      return false;
    }
    if (nidx == 3 && idx[1] > idx[2]) {
      *err = "invalid slice index: " + std::to_string(idx[1]) + " > " + std::to_string(idx[2]);
      return false;
    }
    auto lo = static_cast<size_t>(idx[0]), hi = static_cast<size_t>(idx[1]);
    if (item.kind() == Kind::kString) {
      *out = SubValue(item, item.str().substr(lo, hi - lo));
    } else {
      *out = Value::FromList(std::make_shared<List>(item.list().begin() + static_cast<long>(lo),
                                                    item.list().begin() + static_cast<long>(hi)));
    }
    return true;
  }

  // Runs a function on checked arguments: text/template's builtins here, the functions Loki and
  // sprig add in builtins_*.cc. False with the message in *err (Go: the error the function
  // returned, or the panic it raised).
  bool Apply(Func id, const Args& a, const Command* cmd, Value* out, std::string* err) {
    const CallEnv env{ctx_, cmd};
    auto str = [&](size_t k) { return a[k].str(); };
    auto owned = [&](std::string s) {
      *out = Value::Owned(std::move(s));
      return true;
    };
    switch (id) {
      case Func::kAnd:
      case Func::kOr:
        return true;  // handled by Call
      case Func::kNot:
        *out = Value::Bool(!Truth(a[0]));
        return true;
      case Func::kLen:
        switch (a[0].kind()) {
          case Kind::kString:
            *out = Value::Int(static_cast<int64_t>(a[0].str().size()));
            return true;
          case Kind::kList:
            *out = Value::Int(static_cast<int64_t>(a[0].list().size()));
            return true;
          case Kind::kMap:
            *out = Value::Int(static_cast<int64_t>(a[0].map().size()));
            return true;
          case Kind::kNil:
            *err = "len of nil pointer";
            return false;
          case Kind::kLabels:
            *err = "len of the label map (.) is not supported";
            return false;
          default:
            *err = "len of type " + std::string(GoTypeName(a[0]));
            return false;
        }
      case Func::kIndex:
        return Index(a, out, err);
      case Func::kSlice:
        return Slice(a, out, err);
      case Func::kPrint:
      case Func::kPrintln: {
        if (!NoLabels(a, err)) return false;
        std::string s;
        if (id == Func::kPrint) {
          Sprint(a.span(), &s);
        } else {
          Sprintln(a.span(), &s);
        }
        return owned(std::move(s));
      }
      case Func::kPrintf: {
        if (!NoLabels(a, err)) return false;
        std::string s;
        Sprintf(str(0), a.span().subspan(1), &s);
        return owned(std::move(s));
      }
      case Func::kHtml:
      case Func::kJs:
      case Func::kUrlquery: {
        std::string s, r;
        if (!EvalArgsString(a, &s, err)) return false;
        if (id == Func::kHtml) {
          HtmlEscape(s, &r);
        } else if (id == Func::kJs) {
          JsEscape(s, &r);
        } else {
          QueryEscape(s, &r);
        }
        return owned(std::move(r));
      }
      case Func::kCall:
        *err =
            a[0].is_nil() ? "call of nil" : "non-function of type " + std::string(GoTypeName(a[0]));
        return false;
      case Func::kEq: {
        bool r;
        if (!Eq(a[0], a.span().subspan(1), &r, err)) return false;
        *out = Value::Bool(r);
        return true;
      }
      case Func::kNe: {
        bool r;
        if (!Eq(a[0], a.span().subspan(1), &r, err)) return false;
        *out = Value::Bool(!r);
        return true;
      }
      case Func::kLt:
      case Func::kGe: {
        bool r;
        if (!Lt(a[0], a[1], &r, err)) return false;
        *out = Value::Bool(id == Func::kLt ? r : !r);
        return true;
      }
      case Func::kLe:
      case Func::kGt: {
        bool r;
        if (!Lt(a[0], a[1], &r, err)) return false;
        if (!r && !Eq(a[0], a.span().subspan(1), &r, err)) return false;
        *out = Value::Bool(id == Func::kLe ? r : !r);
        return true;
      }
      case Func::kDefault:
        if (a.size() < 2 || IsEmpty(a[1])) {
          *out = a[0];
        } else {
          *out = a[1];
        }
        return true;
      case Func::kLine:
      case Func::kToLower:
      case Func::kLower:
      case Func::kToUpper:
      case Func::kUpper:
      case Func::kTitle:
      case Func::kGoReplace:
      case Func::kReplace:
      case Func::kGoTrim:
      case Func::kGoTrimLeft:
      case Func::kGoTrimRight:
      case Func::kTrimAll:
      case Func::kGoTrimPrefix:
      case Func::kTrimPrefix:
      case Func::kGoTrimSuffix:
      case Func::kTrimSuffix:
      case Func::kGoTrimSpace:
      case Func::kTrim:
      case Func::kRegexReplaceAll:
      case Func::kRegexReplaceAllLiteral:
      case Func::kCount:
      case Func::kAlignLeft:
      case Func::kAlignRight:
      case Func::kTrunc:
      case Func::kSubstr:
      case Func::kContains:
      case Func::kHasPrefix:
      case Func::kHasSuffix:
      case Func::kIndent:
      case Func::kNindent:
      case Func::kRepeat:
        return ApplyStringFunc(id, a.span(), env, out, err);
      case Func::kUrldecode:
      case Func::kUrlencode:
      case Func::kB64enc:
      case Func::kB64dec:
      case Func::kFromJson:
        return ApplyEncodingFunc(id, a.span(), env, out, err);
      case Func::kBytes:
      case Func::kInt:
      case Func::kFloat64:
      case Func::kAdd:
      case Func::kSub:
      case Func::kMul:
      case Func::kDiv:
      case Func::kMod:
      case Func::kAddf:
      case Func::kSubf:
      case Func::kMulf:
      case Func::kDivf:
      case Func::kMax:
      case Func::kMin:
      case Func::kMaxf:
      case Func::kMinf:
      case Func::kCeil:
      case Func::kFloor:
      case Func::kRound:
        return ApplyMathFunc(id, a.span(), env, out, err);
      case Func::kTimestamp:
      case Func::kDuration:
      case Func::kUnixEpoch:
      case Func::kUnixEpochMillis:
      case Func::kUnixEpochNanos:
      case Func::kToDateInZone:
      case Func::kToDate:
      case Func::kUnixToTime:
      case Func::kDate:
      case Func::kNow:
        return ApplyTimeFunc(id, a.span(), env, out, err);
    }
    return true;
  }

  const Program& prog_;
  const Context& ctx_;
  std::string* out_;
  std::string tmpl_name_;
  Flow flow_ = Flow::kNormal;
  int depth_ = 0;
  int nesting_ = 0;
  int64_t steps_ = 0;
};

}  // namespace

Status ExecuteProgram(const Program& prog, const Context& ctx, std::string* out) {
  Exec exec(prog, ctx, out);
  return exec.Run();
}

}  // namespace sluice::gotemplate::internal
