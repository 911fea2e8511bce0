// libzmq's C API (Debian: libzmq3-dev), for the ZeroMQ module.
#ifndef EVENTMESH_CZEROMQ_SHIM_H
#define EVENTMESH_CZEROMQ_SHIM_H
#include <zmq.h>
#endif
