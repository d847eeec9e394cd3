// Typed identities for the objects the runtime passes around.
//
// Linux: none of its own — the kernel passes pointers (struct kmem_cache *, struct slab *) and
//        ints (nid). kmemlab keeps caches and slabs in tables and names them by index; these
//        types keep an index of one table from being used in another.
// Each is four bytes, as the Int32 it wraps, so tables of them stay as compact as before; `none`
// is the NULL pointer of the structure it stands for.

/// An element of a table of `Element`s (`[Element]`), by its index. The element type only tags
/// the id: a `TableID<Slab>` cannot index the caches.
@frozen
public struct TableID<Element>: Hashable, Comparable, Sendable {
    public var raw: Int32
    @inlinable public init(_ raw: Int32) { self.raw = raw }
    /// (Tables never reach 2^31 entries: a larger index is a bug, and traps.)
    @inlinable public init(index: Int) { self.raw = Int32(index) }
    /// No element (Linux: NULL; the end of a list).
    @inlinable public static var none: TableID { TableID(-1) }
    @inlinable public var index: Int { Int(raw) }
    @inlinable public var isNone: Bool { raw < 0 }
    @inlinable public static func < (a: TableID, b: TableID) -> Bool { a.raw < b.raw }
}

/// A kmem_cache: its index in `SlubState.caches` (Linux: struct kmem_cache *).
public typealias CacheID = TableID<KmemCache>
/// A slab: its index in `SlubState.slabs` (Linux: struct slab *, the head page's descriptor).
public typealias SlabID = TableID<Slab>

extension Array {
    /// The element an id names.
    @inlinable public subscript(id: TableID<Element>) -> Element {
        get { self[id.index] }
        _modify { yield &self[id.index] }
    }

    /// Whether the id names an element of this table (not `none`, not past the end).
    @inlinable public func holds(_ id: TableID<Element>) -> Bool { id.raw >= 0 && id.index < count }
}

/// A NUMA node's id, as Linux numbers nodes (nid; NUMA_NO_NODE is `none`). Not an index into
/// `PageAllocator.nodes`, which lists only the nodes with memory: `nodeIndex(_:)` maps one to
/// the other, and the types keep them from being mixed.
@frozen
public struct NodeID: Hashable, Comparable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var raw: Int32
    @inlinable public init(_ raw: Int32) { self.raw = raw }
    @inlinable public init(integerLiteral value: Int32) { self.raw = value }
    /// Linux: NUMA_NO_NODE.
    @inlinable public static var none: NodeID { NodeID(-1) }
    @inlinable public var isNone: Bool { raw < 0 }
    /// The id as a number for the tables kept per node id (node_zonelists, node masks).
    @inlinable public var number: Int { Int(raw) }
    @inlinable public static func < (a: NodeID, b: NodeID) -> Bool { a.raw < b.raw }
    public var description: String { String(raw) }
}
