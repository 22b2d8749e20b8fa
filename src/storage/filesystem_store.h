#pragma once

#include <string>

#include "storage/object_store.h"

namespace sluice::storage {

// An ObjectStore on a local directory: key "a/b/c" is the file <root_dir>/a/b/c.
//
// Put writes a temporary file under <root_dir>/.sluice/tmp/, fsyncs it, renames it over the target
// and fsyncs the target's directory, so a crash leaves the old object or the new one, never a torn
// one; stray temporaries from a crash are removed when a store is opened on the directory.
// Directories are created as needed and not removed when they empty. Because a key is a file, a
// key cannot also be a prefix folder of another key ("a" and "a/b"): such a Put fails with
// IOError (S3 would allow it; sluice never writes such pairs).
//
// `root_dir` is created if missing. Failures to create it surface as IOError on first use.
ObjectStorePtr NewFilesystemStore(std::string root_dir);

}  // namespace sluice::storage
