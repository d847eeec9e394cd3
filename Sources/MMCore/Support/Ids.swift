// Typed identities for the objects the runtime passes around.
//
// Linux: none of its own — the kernel passes pointers (struct kmem_cache *, struct slab *) and
//        ints (nid). kmemlab keeps caches and slabs in tables and names them by index; these
//        types keep an index of one table from being used in another, and a node id (what
//        Linux calls nid: the firmware's number) from being used as a position in `nodes`.
// Each is four bytes, as the Int32 it wraps, so tables of them stay as compact as before; `none`
// is the NULL pointer of the structure it stands for.

/// A kmem_cache: its index in `SlubState.caches` (Linux: struct kmem_cache *).
@frozen
public struct CacheID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: Int32
    @inlinable public init(_ raw: Int32) { self.raw = raw }
    @inlinable public init(index: Int) { self.raw = Int32(truncatingIfNeeded: index) }
    /// No cache (Linux: NULL).
    public static let none = CacheID(-1)
    @inlinable public var index: Int { Int(raw) }
    @inlinable public var isNone: Bool { raw < 0 }
    @inlinable public static func < (a: CacheID, b: CacheID) -> Bool { a.raw < b.raw }
    public var description: String { "cache#\(raw)" }
}

/// A slab: its index in `SlubState.slabs` (Linux: struct slab *, the head page's descriptor).
@frozen
public struct SlabID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: Int32
    @inlinable public init(_ raw: Int32) { self.raw = raw }
    @inlinable public init(index: Int) { self.raw = Int32(truncatingIfNeeded: index) }
    /// No slab (Linux: NULL; the end of a list).
    public static let none = SlabID(-1)
    @inlinable public var index: Int { Int(raw) }
    @inlinable public var isNone: Bool { raw < 0 }
    @inlinable public static func < (a: SlabID, b: SlabID) -> Bool { a.raw < b.raw }
    public var description: String { "slab#\(raw)" }
}

extension Array where Element == KmemCache {
    /// The cache an id names.
    @inlinable public subscript(id: CacheID) -> KmemCache {
        get { self[id.index] }
        _modify { yield &self[id.index] }
    }
}

extension Array where Element == Slab {
    /// The slab an id names.
    @inlinable public subscript(id: SlabID) -> Slab {
        get { self[id.index] }
        _modify { yield &self[id.index] }
    }
}
