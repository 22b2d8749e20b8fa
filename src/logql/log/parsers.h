#pragma once

// The parser stages: `json`, `logfmt`, `regexp`, `pattern` and `unpack`, with Loki's semantics
// (pkg/logql/log/parser.go). Each extracts labels from the line into the LabelsBuilder:
//
//   - names are sanitized as Loki does (characters outside [a-zA-Z0-9_] become `_`, a leading
//     digit gets a `_` prefix); a name that is already a stream label gets `_extracted`;
//   - a parse failure never drops the line: it sets `__error__` (JSONParserErr,
//     LogfmtParserErr) and `__error_details__` (the decoder's message) and keeps what was
//     extracted before the failure;
//   - `json` without parameters flattens nested objects with `_` (`{"a":{"b":1}}` -> a_b="1")
//     and skips arrays and nulls; `json a="x.y[0]"` extracts only the listed paths (objects and
//     arrays as their JSON text, absent paths as "");
//   - `logfmt` skips malformed pairs unless `--strict` (which stops at the first one and sets
//     the error) and drops empty values unless `--keep-empty`; with parameters it extracts only
//     the listed keys (absent ones as "");
//   - `regexp` sets every named group of the first match ("" for groups that did not take
//     part); a line that does not match gets no labels;
//   - `pattern` sets the captures it could match, left to right;
//   - `unpack` reads a Promtail-packed JSON object: its string members become labels and
//     `_entry` becomes the line (only when `_entry` is present).
//
// Stages keep their scratch buffers between lines: no allocation per field in steady state.
//
// `json` and `logfmt` (without parameters) take parser hints (parser_hints.h): they then set
// only the hinted labels, still reading the whole line for its errors and duplicate keys.

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "logql/log/parser_hints.h"
#include "logql/log/stage.h"
#include "logql/syntax/ast.h"

namespace sluice::logql::log {

// InvalidArgument for what Loki rejects when building the stage (invalid regexp without named
// captures, bad pattern, bad JSON path), with Loki's texts.
Result<StagePtr> NewParserStage(const syntax::ParserStage& stage,
                                const ParserHints& hints = ParserHints());

// Where each label a `json` stage set came from: the label's name and the object keys leading
// to its value, as written in the line (`{"user":{"id":1}}` -> {"user_id", {"user", "id"}}).
using JsonPaths = std::vector<std::pair<std::string, std::vector<std::string>>>;

// `json` (no parameters) that also records the path of every label it sets into *paths,
// cleared at each line: Loki's JSONParser with captureJSONPath, which detected fields' jsonPath
// reports. REQUIRES: *paths outlives the stage.
StagePtr NewJsonParserWithPaths(JsonPaths* paths);

}  // namespace sluice::logql::log
