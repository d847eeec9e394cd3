// A small seeded random generator: the same seed gives the same sequence on every host.
//
// Used wherever the model takes a seed (KASLR, freelist randomisation, shuffle) and by tests
// and benchmarks that need reproducible workloads. SplitMix64 (Steele, Lea, Flood 2014).
//
// Linux: none — it stands in for get_random_u64()/get_random_long() (drivers/char/random.c) and
//        get_cycles(), whose values no log records, so a seed makes them reproducible.

public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
