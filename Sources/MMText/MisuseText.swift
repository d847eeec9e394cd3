// The words the shells and path reports use for a refused free. MMCore keeps the reasons as
// enums (SlabMisuse, BadPageReason); the kernel log's own lines (bad_page()'s "page dumped
// because:", slub_debug's BUG/FIX reports) are printed by the model itself.

import MMCore

extension SlabMisuse {
    /// One short phrase, as the shell prints it after the object's address.
    public var text: String {
        switch self {
        case .noSuchCacheOrCPU: return "no such cache or CPU"
        case .notSlabPage: return "not a slab page"
        case .notObjectStart: return "not an object"
        case .doubleFree: return "double free"
        case .slabCheckFailed: return "slab check failed"
        case .noAllocatedObjects: return "slab has no allocated objects"
        case .consistencyCheckFailed: return "consistency check failed"
        case .notDirectMapAddress: return "not a direct-map address"
        case .notAllocationStart: return "not the start of an allocation"
        case .badPage(let r): return r.dumpReason
        case .invalidPfn: return "invalid pfn"
        }
    }
}
