// The reserves the page allocator keeps: min_free_kbytes, the per-zone watermarks, lowmem_reserve
// and the per-cpu pageset limits, and the sysctls that change them.
//
// Linux: mm/page_alloc.c — nr_free_zone_pages(), calculate_min_free_kbytes(),
//        __setup_per_zone_wmarks(), setup_per_zone_lowmem_reserve(),
//        calculate_totalreserve_pages(), zone_batchsize(), zone_highsize(),
//        zone_set_high_and_batch(), and the vm.* sysctl handlers.
// Exact: every value, and *when* it is computed — each uses managed_pages as it stood at that
//        moment, which is why boot replays the calls in the kernel's order (Boot/InitMain.swift).

/// The vm.* sysctls that shape the reserves, with Debian 6.1's defaults.
public struct VMTunables: Equatable, Sendable {
    /// Linux: min_free_kbytes (its static initial value; boot recomputes it).
    public var minFreeKbytes: Int64 = 1024
    /// Linux: user_min_free_kbytes — what the administrator wrote, −1 when never set.
    public var userMinFreeKbytes: Int64 = -1
    /// Linux: watermark_scale_factor (in 1/10000 of a zone).
    public var watermarkScaleFactor: UInt64 = 10
    /// Linux: watermark_boost_factor.
    public var watermarkBoostFactor: UInt64 = 15000
    /// Linux: sysctl_lowmem_reserve_ratio[] per zone type.
    public var lowmemReserveRatio: [UInt64] = [256, 256, 32, 0, 0]
    /// Linux: percpu_pagelist_high_fraction (0: pcp high follows the low watermark).
    public var percpuPagelistHighFraction: UInt64 = 0
    public init() {}
}

/// Why a sysctl write was refused, as the kernel's handler would fail it.
public enum SysctlError: Error, Equatable, Sendable {
    case unknown(String)
    case invalid(name: String, value: String)
}

/// Linux: int_sqrt() — the integer square root, digit by digit.
func intSqrt(_ x: UInt64) -> UInt64 {
    if x < 2 { return x }
    var x = x
    var m: UInt64 = 1 << ((fls(x) - 1) & ~1)
    var y: UInt64 = 0
    while m != 0 {
        let b = y + m
        y >>= 1
        if x >= b {
            x -= b
            y += m
        }
        m >>= 2
    }
    return y
}

/// Linux: fls() — the 1-based index of the highest set bit, 0 for 0.
@inlinable func fls(_ x: UInt64) -> UInt64 { x == 0 ? 0 : UInt64(64 - x.leadingZeroBitCount) }

/// Linux: rounddown_pow_of_two().
@inlinable func roundDownPowOfTwo(_ x: UInt64) -> UInt64 { x == 0 ? 0 : 1 << (fls(x) - 1) }

extension Kernel {
    /// Calls `body` for every zone of every node (Linux: for_each_zone).
    mutating func forEachZone(_ body: (inout Zone) -> Void) {
        for n in nodes.indices {
            for z in nodes[n].zones.indices { body(&nodes[n].zones[z]) }
        }
    }

    /// Linux: nr_free_buffer_pages() = nr_free_zone_pages(gfp_zone(GFP_USER)): what the zones
    /// an ordinary allocation may use hold above their high watermark, along the boot CPU's
    /// node's zonelist.
    public func nrFreeBufferPages() -> UInt64 {
        let local = bootCPUNode.number
        guard local < zonelists.fallback.count else { return 0 }
        var sum: UInt64 = 0
        for ref in zonelists.fallback[local] where ref.zone <= .normal {
            guard let z = zone(nid: ref.nid, type: ref.zone) else { continue }
            if z.managedPages > z.highWmark { sum += z.managedPages - z.highWmark }
        }
        return sum
    }

    /// The zone of type `type` on node `nid`, if the node exists.
    public func zone(nid: NodeID, type: ZoneType) -> Zone? {
        nodeIndex(nid).map { nodes[$0].zones[type.rawValue] }
    }

    /// Linux: calculate_min_free_kbytes(): 4·√(lowmem in KiB), clamped to [128 KiB, 256 MiB],
    /// unless the administrator asked for more.
    mutating func calculateMinFreeKbytes() {
        let lowmemKbytes = nrFreeBufferPages() * (pageSize >> 10)
        let new = Int64(intSqrt(lowmemKbytes * 16))
        if new > vm.userMinFreeKbytes {
            vm.minFreeKbytes = Swift.min(Swift.max(new, 128), 262144)
        } else {
            log.info("min_free_kbytes is not updated to \(new) because user defined value \(vm.userMinFreeKbytes) is preferred")
        }
    }

    /// Linux: setup_per_zone_wmarks(): min_free_kbytes shared out by managed size; low and high
    /// a quarter of min (or watermark_scale_factor of the zone, if larger) above it. New
    /// watermarks change the pcp high limits, so those follow.
    mutating func setupPerZoneWmarks() {
        let pagesMin = UInt64(Swift.max(vm.minFreeKbytes, 0)) >> (pageShift - 10)
        var lowmemPages: UInt64 = 0
        forEachZone { lowmemPages += $0.managedPages }
        let scale = vm.watermarkScaleFactor, boostFactor = vm.watermarkBoostFactor
        forEachZone { z in
            let managed = z.managedPages
            // (managed ≤ lowmem_pages, so the quotient fits; the product is taken at full width.)
            let tmp = lowmemPages == 0 ? 0 : lowmemPages.dividingFullWidth(pagesMin.multipliedFullWidth(by: managed)).quotient
            z.watermark.min = tmp
            let frac = mulFrac(managed, scale, 10000)
            let step = Swift.max(tmp >> 2, frac)
            z.watermarkBoost = 0
            z.boostFactor = boostFactor
            z.watermark.low = z.minWmark + step
            z.watermark.high = z.lowWmark + step
            z.watermark.promo = z.highWmark + step
        }
        calculateTotalreservePages()
        for n in nodes.indices {
            for i in nodes[n].zones.indices { zonePcpUpdate(node: n, zone: i, cpuOnline: 0) }
        }
    }

    /// Linux: setup_per_zone_lowmem_reserve(): a lower zone keeps back 1/ratio of everything
    /// above it on the node, so that allocations that could have used the upper zones do not
    /// exhaust memory only it can provide (DMA for old devices, DMA32 for 32-bit ones).
    mutating func setupPerZoneLowmemReserve() {
        for n in nodes.indices where numa.nodeOnline.contains(UInt64(nodes[n].nodeId.raw)) {
            for i in 0..<(maxNrZones - 1) {
                let ratio = vm.lowmemReserveRatio[i]
                let clear = ratio == 0 || nodes[n].zones[i].managedPages == 0
                var managed: UInt64 = 0
                for j in (i + 1)..<maxNrZones {
                    managed += nodes[n].zones[j].managedPages
                    nodes[n].zones[i].lowmemReserve[j] = clear ? 0 : managed / ratio
                }
            }
        }
        calculateTotalreservePages()
    }

    /// Linux: calculate_totalreserve_pages(): per zone, its high watermark plus its largest
    /// lowmem_reserve, capped at its size — memory the kernel will not count as available.
    mutating func calculateTotalreservePages() {
        var total: UInt64 = 0
        for node in nodes where numa.nodeOnline.contains(UInt64(node.nodeId.raw)) {
            for (i, z) in node.zones.enumerated() {
                var m: UInt64 = 0
                for j in i..<maxNrZones where z.lowmemReserve[j] > m { m = z.lowmemReserve[j] }
                total += Swift.min(m + z.highWmark, z.managedPages)
            }
        }
        totalreservePages = total
    }

    /// Linux: zone_batchsize(): about a quarter of a MiB per 1 GiB of zone, at most 64 pages
    /// before the power-of-two rounding that keeps batches from aliasing in the cache.
    static func zoneBatchsize(managed: UInt64) -> UInt64 {
        var batch = Swift.min(managed >> 10, SZ_1M / pageSize) / 4
        if batch < 1 { batch = 1 }
        let r = roundDownPowOfTwo(batch + batch / 2)
        return r == 0 ? 0 : r - 1
    }

    /// Linux: zone_highsize(): the low watermark (or a fraction of the zone) split over the
    /// node's CPUs, never below four batches.
    func zoneHighsize(_ z: Zone, batch: UInt64, cpuOnline: Int) -> UInt64 {
        let total = vm.percpuPagelistHighFraction == 0 ? z.lowWmark : z.managedPages / vm.percpuPagelistHighFraction
        var nr = UInt64(numa.cpusOnNode(z.nid.raw, online: onlineCPUs) + cpuOnline)
        if nr == 0 { nr = UInt64(onlineCPUs) }
        return Swift.max(total / Swift.max(nr, 1), batch << 2)
    }

    /// Linux: zone_pcp_update() → zone_set_high_and_batch().
    mutating func zonePcpUpdate(node n: Int, zone i: Int, cpuOnline: Int) {
        let z = nodes[n].zones[i]
        let batch = Swift.max(1, Kernel.zoneBatchsize(managed: z.managedPages))
        nodes[n].zones[i].pagesetBatch = batch
        nodes[n].zones[i].pagesetHigh = zoneHighsize(z, batch: batch, cpuOnline: cpuOnline)
    }

    /// Linux: setup_per_cpu_pageset() → setup_zone_pageset(): every populated zone gets real
    /// pagesets. No watermark exists yet, so high is four batches of the managed pages freed so
    /// far.
    mutating func setupPerCPUPageset() {
        updatePopulatedPagesets()
    }

    /// zone_set_high_and_batch(zone, 0) for every populated zone.
    mutating func updatePopulatedPagesets() {
        for n in nodes.indices {
            for i in nodes[n].zones.indices where nodes[n].zones[i].isPopulated {
                zonePcpUpdate(node: n, zone: i, cpuOnline: 0)
            }
        }
    }

    /// Linux: init_per_zone_wmark_min() (postcore_initcall).
    mutating func initPerZoneWmarkMin() {
        calculateMinFreeKbytes()
        setupPerZoneWmarks()
        refreshZoneStatThresholds()
        setupPerZoneLowmemReserve()
    }

    /// Writes a vm.* sysctl the way its proc handler does, recomputing what depends on it.
    /// Values are decimal; lowmem_reserve_ratio takes one per zone type, blank-separated.
    public mutating func writeSysctl(_ name: String, _ value: String) throws(SysctlError) {
        func int(_ s: String) -> Int64? {
            var v: Int64 = 0
            var neg = false
            var any = false
            for (i, c) in s.utf8.enumerated() {
                if i == 0 && c == UInt8(ascii: "-") { neg = true; continue }
                guard c >= 48 && c <= 57 else { return nil }
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(c - 48))
                if o1 || o2 { return nil }
                v = a
                any = true
            }
            return any ? (neg ? -v : v) : nil
        }
        let bad = SysctlError.invalid(name: name, value: value)
        switch name {
        case "vm.min_free_kbytes":
            guard let v = int(value), v >= 0, v <= Int64(Int32.max) else { throw bad }
            vm.minFreeKbytes = v
            vm.userMinFreeKbytes = v
            setupPerZoneWmarks()
        case "vm.watermark_scale_factor":
            guard let v = int(value), v >= 1, v <= 3000 else { throw bad }
            vm.watermarkScaleFactor = UInt64(v)
            setupPerZoneWmarks()
        case "vm.watermark_boost_factor":
            guard let v = int(value), v >= 0, v <= Int64(Int32.max) else { throw bad }
            vm.watermarkBoostFactor = UInt64(v)
            forEachZone { $0.boostFactor = UInt64(v) }
        case "vm.lowmem_reserve_ratio":
            var ratios = vm.lowmemReserveRatio
            var i = 0
            for part in value.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                guard i < maxNrZones, let v = int(String(part)), v <= Int64(Int32.max) else { throw bad }
                ratios[i] = v < 1 ? 0 : UInt64(v)
                i += 1
            }
            guard i > 0 else { throw bad }
            vm.lowmemReserveRatio = ratios
            setupPerZoneLowmemReserve()
        case "vm.percpu_pagelist_high_fraction":
            guard let v = int(value), v == 0 || (v >= 8 && v <= Int64(Int32.max)) else { throw bad }
            vm.percpuPagelistHighFraction = UInt64(v)
            updatePopulatedPagesets()
        default:
            throw .unknown(name)
        }
    }
}
