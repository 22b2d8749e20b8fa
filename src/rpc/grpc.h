#pragma once

// gRPC's headers, for every file of this layer: include this instead of <grpcpp/grpcpp.h> or a
// generated *.grpc.pb.h first. Abseil's old annotation header (which gRPC includes) defines
// GUARDED_BY, PT_GUARDED_BY and NO_THREAD_SAFETY_ANALYSIS too; with ours first, its
// redefinitions sit in a system header and stay silent (to the same effect: clang's attributes),
// while ours after it would be an error under -Werror.

#include "common/thread_annotations.h"

#include <grpcpp/grpcpp.h>

#include "ingester.grpc.pb.h"
