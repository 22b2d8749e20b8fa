#pragma once

// Internal to the template engine: the encodings Loki's template functions expose (net/url,
// encoding/base64, text/template's HTML and JS escaping).

#include <string>
#include <string_view>

namespace sluice::gotemplate::internal {

// url.QueryEscape / QueryUnescape (false with Go's message in *error).
void QueryEscape(std::string_view s, std::string* out);
bool QueryUnescape(std::string_view s, std::string* out, std::string* error);
// base64.StdEncoding.
void Base64Encode(std::string_view s, std::string* out);
bool Base64Decode(std::string_view s, std::string* out, std::string* error);
// template.HTMLEscapeString / JSEscapeString.
void HtmlEscape(std::string_view s, std::string* out);
void JsEscape(std::string_view s, std::string* out);

}  // namespace sluice::gotemplate::internal
