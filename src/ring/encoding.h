#pragma once

// Text encodings the ring writes: base64 for etcd's JSON gateway, JSON string escaping for the
// gateway's requests and the /ring page.

#include <string>
#include <string_view>

namespace sluice::ring {

// Base64, standard alphabet, padded (how etcd's JSON gateway carries bytes).
std::string Base64Encode(std::string_view in);
// False on characters outside the alphabet.
bool Base64Decode(std::string_view in, std::string* out);

// The inside of a JSON string: quotes, backslashes and control characters escaped.
std::string JsonEscape(std::string_view s);

}  // namespace sluice::ring
