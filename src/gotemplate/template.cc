#include "gotemplate/template.h"

#include <algorithm>

#include "gotemplate/exec.h"
#include "gotemplate/parse.h"

namespace sluice::gotemplate {

namespace {

using internal::Arg;
using internal::ArgKind;
using internal::Node;
using internal::NodeKind;
using internal::Pipe;

void AddName(std::string_view name, std::vector<std::string>* names) {
  if (std::find(names->begin(), names->end(), name) == names->end()) {
    names->emplace_back(name);
  }
}

void CollectPipe(const Pipe& p, std::vector<std::string>* names);

void CollectArg(const Arg& a, std::vector<std::string>* names) {
  if (a.kind == ArgKind::kField && !a.fields.empty()) AddName(a.fields[0], names);
  if (a.pipe) CollectPipe(*a.pipe, names);
}

void CollectPipe(const Pipe& p, std::vector<std::string>* names) {
  for (const auto& c : p.cmds) {
    for (const Arg& a : c.args) CollectArg(a, names);
    // index . "name" / index $ "name" reads a label too.
    if (c.args.size() >= 3 && c.args[0].kind == ArgKind::kIdentifier &&
        c.args[0].func == internal::Func::kIndex &&
        (c.args[1].kind == ArgKind::kDot || (c.args[1].kind == ArgKind::kVariable &&
                                             c.args[1].var == 0 && c.args[1].fields.empty())) &&
        c.args[2].kind == ArgKind::kString) {
      AddName(c.args[2].str, names);
    }
  }
}

void CollectNodes(const std::vector<Node>& nodes, std::vector<std::string>* names) {
  for (const Node& n : nodes) {
    if (n.pipe) CollectPipe(*n.pipe, names);
    CollectNodes(n.list, names);
    CollectNodes(n.else_list, names);
  }
}

}  // namespace

Result<Template> Template::Compile(std::string_view text, std::string_view name) {
  auto prog = std::make_shared<internal::Program>();
  prog->source.assign(text);
  prog->name.assign(name);
  SLUICE_RETURN_IF_ERROR(internal::Parse(prog.get()));

  Template t(prog);
  // The fast path: text, {{.label}} and {{__line__}} only.
  if (prog->templates.size() == 1) {
    bool simple = true;
    for (const Node& n : prog->templates[0].root) {
      if (n.kind == NodeKind::kText) {
        t.fast_.push_back(Segment{Segment::Kind::kText, n.text});
        continue;
      }
      if (n.kind != NodeKind::kAction || !n.pipe->decl.empty() || n.pipe->cmds.size() != 1 ||
          n.pipe->cmds[0].args.size() != 1) {
        simple = false;
        break;
      }
      const Arg& a = n.pipe->cmds[0].args[0];
      if (a.kind == ArgKind::kField && a.fields.size() == 1) {
        t.fast_.push_back(Segment{Segment::Kind::kLabel, a.fields[0]});
      } else if (a.kind == ArgKind::kIdentifier && a.func == internal::Func::kLine) {
        t.fast_.push_back(Segment{Segment::Kind::kLine, {}});
      } else {
        simple = false;
        break;
      }
    }
    t.use_fast_ = simple;
    if (!simple) t.fast_.clear();
  }
  return t;
}

Status Template::Execute(const Context& ctx, std::string* out) const {
  out->clear();
  if (use_fast_) {
    for (const Segment& s : fast_) {
      switch (s.kind) {
        case Segment::Kind::kText:
          out->append(s.value);
          break;
        case Segment::Kind::kLabel:
          if (ctx.label) {
            if (auto v = ctx.label(s.value)) out->append(*v);
          }
          break;
        case Segment::Kind::kLine:
          out->append(ctx.line);
          break;
      }
    }
    return Status::OK();
  }
  return internal::ExecuteProgram(*prog_, ctx, out);
}

std::vector<std::string> Template::ReferencedLabels() const {
  std::vector<std::string> names;
  for (const auto& def : prog_->templates) CollectNodes(def.root, &names);
  return names;
}

const std::string& Template::source() const { return prog_->source; }

}  // namespace sluice::gotemplate
