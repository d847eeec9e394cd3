// The replay timeline: fragmentation figures of every zone sampled along a trace's replay, for
// the explorer's timeline view (`kmemlab report --trace`).

import MMCore

/// Samples of a replay: at each, the events so far, the trace time, and per populated zone its
/// free pages, largest free order, compaction score, unusable index at order 9 and free blocks
/// per order.
public struct ReplayTimeline: Sendable {
    public struct ZoneSample: Sendable, Equatable {
        public var freePages: UInt64
        public var largestOrder: Int
        public var score: UInt64
        public var unusable9: Int
        public var nrFree: [UInt64]
    }
    public struct Sample: Sendable, Equatable {
        public var events: Int
        public var timeUS: Int64?
        public var zones: [ZoneSample]
    }
    /// The zones sampled, as "node N Name", in the order of each sample's `zones`.
    public private(set) var zoneNames: [String] = []
    public private(set) var samples: [Sample] = []
    /// "decide" or "as recorded".
    public let mode: String

    public init(mode: String, every: Int = 1000, maxSamples: Int = 400) {
        self.mode = mode
        self.every = Swift.max(1, every)
        self.maxSamples = Swift.max(2, maxSamples)
    }

    /// Events between samples; doubles (and every other sample is dropped) whenever the
    /// samples pass `maxSamples`, so a trace of any length gives a timeline of bounded size.
    public private(set) var every: Int
    public let maxSamples: Int

    /// Records the figures of `k` when `events` is a multiple of `every` (and at 0).
    public mutating func maybeSample(_ k: Kernel, events: Int, timeUS: Int64?) {
        guard events % every == 0 else { return }
        sample(k, events: events, timeUS: timeUS)
        if samples.count > maxSamples {
            every *= 2
            samples = samples.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        }
    }

    /// Records the figures of `k` now.
    public mutating func sample(_ k: Kernel, events: Int, timeUS: Int64?) {
        let zones = FragmentationText.populatedZones(k)
        if zoneNames.isEmpty { zoneNames = zones.map { "node \($0.node) \($0.zone.type.name)" } }
        samples.append(Sample(events: events, timeUS: timeUS, zones: zones.map { z in
            let f = ZoneFragmentation(z.zone)
            return ZoneSample(freePages: f.freePages, largestOrder: f.largestOrder ?? -1, score: f.score,
                              unusable9: f.unusableIndex[Int(pageblockOrder)], nrFree: z.zone.nrFree)
        }))
    }
}
