#pragma once

// The stages that rewrite labels or the line (Loki's pkg/logql/log/fmt.go, drop_labels.go,
// keep_labels.go):
//
//   - `drop a, b="v"`: deletes the named labels (or those whose value matches); dropping
//     `__error__` / `__error_details__` clears the pipeline's error;
//   - `keep a, b="v"`: deletes every other label (a matcher keeps its label only when the value
//     matches); the error labels are always kept;
//   - `decolorize`: strips ANSI escape sequences from the line;
//   - `line_format "{{.a}}"`: renders a Go text/template into the line;
//   - `label_format dst=src, x="{{.a}}"`: renames (the source is dropped) or renders labels.
//     Every template of one label_format sees the labels as they were before its first template
//     ran (Loki snapshots them once per stage). `__error__` cannot be formatted and a label may
//     appear once per stage.
//
// Templates go through TemplateEngine (template_engine.h).

#include "common/status.h"
#include "logql/log/stage.h"
#include "logql/syntax/ast.h"

namespace sluice::logql::log {

Result<StagePtr> NewDropLabelsStage(const syntax::DropLabelsStage& stage);
Result<StagePtr> NewKeepLabelsStage(const syntax::KeepLabelsStage& stage);
Result<StagePtr> NewDecolorizeStage();
// InvalidArgument "invalid line template: ..." for a template that does not parse
// ("unsupported pipeline stage: line_format" if no template engine is linked).
Result<StagePtr> NewLineFormatStage(const syntax::LineFormatStage& stage);
// "invalid template for label 'x': ...", "__error__ cannot be formatted",
// "multiple label name 'x' not allowed in a single format operation".
Result<StagePtr> NewLabelFormatStage(const syntax::LabelFormatStage& stage);

}  // namespace sluice::logql::log
