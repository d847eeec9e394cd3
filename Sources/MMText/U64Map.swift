// A hash map from 64-bit keys (pointers, page frame numbers) for the trace reader's and the
// replay's pairing: every allocation event inserts its key and every free removes one, so a
// trace of millions of events does millions of these. Swift's Dictionary hashes each key with
// SipHash (Hasher), which was a tenth of the whole replay; this table mixes the key with
// splitmix64's finaliser, keyed by a per-table random seed, so keys that collide cannot be
// chosen without the seed; nothing here is ever iterated, so the seed changes no output.
//
// Open addressing with linear probing; removal shifts the entries after the hole back (no
// tombstones); the table doubles at half full.

public struct U64Map<Value> {
    var keys: [UInt64]
    var values: [Value?]
    var used: [Bool]
    public private(set) var count = 0
    var mask: Int
    let seed: UInt64

    public init() {
        keys = [UInt64](repeating: 0, count: 64)
        values = [Value?](repeating: nil, count: 64)
        used = [Bool](repeating: false, count: 64)
        mask = 63
        seed = UInt64.random(in: 0 ... .max) | 1
    }

    /// splitmix64's finaliser of the seeded key: every key bit reaches the low bits the slot
    /// is taken from (a plain multiply would leave keys that differ only in high bits, such as
    /// pointers 2^48 apart, in one slot).
    @inline(__always) func slot(_ key: UInt64) -> Int {
        var z = key ^ seed
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        z ^= z >> 31
        return Int(truncatingIfNeeded: z) & mask
    }

    /// The slot holding `key`, or the empty slot where it would go.
    @inline(__always) func find(_ key: UInt64) -> (slot: Int, found: Bool) {
        var i = slot(key)
        while used[i] {
            if keys[i] == key { return (i, true) }
            i = (i &+ 1) & mask
        }
        return (i, false)
    }

    public subscript(key: UInt64) -> Value? {
        get {
            let (i, found) = find(key)
            return found ? values[i] : nil
        }
        set {
            if let v = newValue { _ = updateValue(v, forKey: key) } else { _ = removeValue(forKey: key) }
        }
    }

    public func contains(_ key: UInt64) -> Bool { find(key).found }

    /// Sets the value; returns the one it replaces.
    @discardableResult
    public mutating func updateValue(_ value: Value, forKey key: UInt64) -> Value? {
        let (i, found) = find(key)
        if found {
            let old = values[i]
            values[i] = value
            return old
        }
        used[i] = true
        keys[i] = key
        values[i] = value
        count += 1
        if count * 2 > mask + 1 { grow() }
        return nil
    }

    /// Removes the key; returns its value.
    @discardableResult
    public mutating func removeValue(forKey key: UInt64) -> Value? {
        let (hole0, found) = find(key)
        guard found else { return nil }
        let old = values[hole0]
        var hole = hole0
        var j = (hole &+ 1) & mask
        // Each later entry of the run moves into the hole unless its home slot lies
        // (cyclically) after the hole and at or before it.
        while used[j] {
            let home = slot(keys[j])
            let stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !stays {
                keys[hole] = keys[j]
                values[hole] = values[j]
                hole = j
            }
            j = (j &+ 1) & mask
        }
        used[hole] = false
        values[hole] = nil
        count -= 1
        return old
    }

    mutating func grow() {
        let oldKeys = keys, oldValues = values, oldUsed = used
        let n = (mask + 1) * 2
        keys = [UInt64](repeating: 0, count: n)
        values = [Value?](repeating: nil, count: n)
        used = [Bool](repeating: false, count: n)
        mask = n - 1
        for i in oldUsed.indices where oldUsed[i] {
            let (s, _) = find(oldKeys[i])
            used[s] = true
            keys[s] = oldKeys[i]
            values[s] = oldValues[i]
        }
    }
}
