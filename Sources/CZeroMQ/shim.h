// libzmq's C API (Debian: libzmq3-dev), for the ZeroMQ module; on Linux also eventfd(2), which
// ZMQWakeup uses and Swift's Glibc module does not export.
#ifndef EVENTMESH_CZEROMQ_SHIM_H
#define EVENTMESH_CZEROMQ_SHIM_H
#include <zmq.h>
#if defined(__linux__)
#include <sys/eventfd.h>
#endif
#endif
