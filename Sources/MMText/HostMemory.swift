// The host's memory lent to the model for simulated RAM.
//
// MMCore never calls the operating system (it imports nothing and must run on bare metal); it
// asks a `RAMReservation` for zero-filled, lazily committed memory. This is the hosted one: an
// anonymous private mapping with MAP_NORESERVE, so a 64 GiB machine reserves address space, not
// memory, and the host commits a page only when the model first writes it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MMCore

public enum HostMemory {
    /// mmap/munmap as a RAMReservation.
    public static let reservation = RAMReservation(
        reserve: { bytes in
            guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
                  p != UnsafeMutableRawPointer(bitPattern: -1) else { return nil }
            return p
        },
        release: { p, bytes in _ = munmap(p, bytes) })

    /// Makes every kernel made from now on keep its RAM in host memory. Call once at startup.
    public static func install() { RAMReservation.host = reservation }
}
