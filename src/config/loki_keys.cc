#include "config/loki_keys.h"

namespace sluice::config {
namespace {

constexpr KeyInfo kLokiKeys[] = {
#include "config/loki_keys.inc"
};

}  // namespace

const KeyCatalog& LokiKeys() {
  static const KeyCatalog kCatalog(kLokiKeys);
  return kCatalog;
}

}  // namespace sluice::config
