/*
 * xen_ring.h - Xen's shared-ring macros (<xen/io/ring.h>, from libxen-dev)
 * with the memory barriers its legacy interface wants from its includer.
 * Every protocol core (blkif, netif) includes it instead of ring.h.
 */
#ifndef PVKIT_COMMON_XEN_RING_H
#define PVKIT_COMMON_XEN_RING_H

#ifndef mb
#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#ifndef rmb
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#endif
#ifndef wmb
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif
#include <xen/io/ring.h>

#endif
