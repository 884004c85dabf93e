#ifndef PUSHFLEET_CNGHTTP2_SHIM_H
#define PUSHFLEET_CNGHTTP2_SHIM_H
// libnghttp2 (Debian libnghttp2-dev 1.52): the client session driven through its memory
// send/receive API (nghttp2_session_mem_recv / nghttp2_session_mem_send), so NIO owns the
// socket and TLS. Every function PushFleet calls is non-variadic; callbacks are plain C
// function pointers that Swift supplies as @convention(c) closures.
#include <nghttp2/nghttp2.h>
#endif
