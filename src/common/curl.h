#pragma once

// libcurl's process-wide initialisation, shared by every libcurl user (the S3 store, the etcd
// client, the agent's push client, the trace exporter). curl_global_init is not thread-safe, and
// a curl_easy_init without it initialises implicitly, racing with other threads: each user calls
// this first, and one flag for all of them makes it happen exactly once.

namespace sluice {

void CurlGlobalInitOnce();

}  // namespace sluice
