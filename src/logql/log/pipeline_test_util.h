#pragma once

// Test helpers for the log pipeline: run one line through a query's pipeline and look at what
// came out. Header-only, for *_test.cc files in this folder.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "logql/log/pipeline.h"
#include "logql/syntax/parser.h"
#include "model/labels.h"

namespace sluice::logql::log::testing {

struct Output {
  bool kept = false;
  std::string line;
  std::string labels;  // the final labels, `{a="b", ...}`; "" when dropped
};

// Compiles `query`'s pipeline and runs `line` of a stream labelled `stream` through it.
inline Output RunLine(std::string_view query, std::string_view stream, std::string_view line,
                      const std::vector<model::Label>& metadata = {}, int64_t ts = 0) {
  Output out;
  auto expr = syntax::Parse(query);
  EXPECT_TRUE(expr.ok()) << query << ": " << expr.status().message();
  if (!expr.ok()) return out;
  auto pipeline = Pipeline::Compile((*expr)->Cast<syntax::LogSelectorExpr>());
  EXPECT_TRUE(pipeline.ok()) << query << ": " << pipeline.status().message();
  if (!pipeline.ok()) return out;
  auto labels = model::ParseLabels(stream);
  EXPECT_TRUE(labels.ok()) << stream;
  if (!labels.ok()) return out;
  LabelsBuilder builder;
  builder.Reset(&*labels, &metadata);
  std::string_view l = line;
  out.kept = pipeline->Process(ts, &l, &builder);
  if (out.kept) {
    out.line.assign(l);
    out.labels = builder.Labels().ToString();
  }
  return out;
}

// The final labels of `line`, or "dropped".
inline std::string LabelsOf(std::string_view query, std::string_view stream,
                            std::string_view line) {
  Output o = RunLine(query, stream, line);
  return o.kept ? o.labels : "dropped";
}

// The compile error of `query`'s pipeline ("" when it compiles).
inline std::string CompileErrorOf(std::string_view query) {
  auto expr = syntax::Parse(query);
  if (!expr.ok()) return "parse: " + expr.status().message();
  auto p = Pipeline::Compile((*expr)->Cast<syntax::LogSelectorExpr>());
  return p.ok() ? "" : p.status().message();
}

}  // namespace sluice::logql::log::testing
