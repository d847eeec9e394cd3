// slab_debug: red zones, poison, tracking, consistency checks and the reports Linux prints.
//
// Linux: mm/slub.c — init_object(), setup_object_debug(), setup_slab_debug(),
//        alloc_debug_processing(), free_debug_processing(), free_consistency_checks(),
//        check_object(), check_bytes_and_report(), check_pad_bytes(), slab_pad_check(),
//        check_slab(), on_freelist(), validate_slab_cache(), slab_bug(), slab_fix(),
//        slab_err(), object_err(), print_trailer(), print_section(); lib/hexdump.c;
//        kernel/panic.c (print_tainted).
// Exact: the bytes written (0x6b/0xa5 poison, 0xbb/0xcc red zones, 0x5a padding), which check
//        runs when, the report lines ("BUG <cache> (<taint>): <what>", the offsets, the hex
//        dumps, "FIX …"), the repairs, and the error count lib/slub_kunit.c expects.
// Simplified: dump_stack()'s lines are not printed (the model has no call stack); a track
//        records the CPU and PID 1 but no caller and no stack ("object allocation/free stack
//        trace missing", which Linux prints for a track without a stack handle).

extension Kernel {
    /// Linux: print_tainted() (KernelLog.taintText).
    public var taintText: String { log.taintText }

    mutating func nextOops() -> Int { log.nextOops() }

    /// Stand-ins for the callers' addresses (the model has no code): non-zero, so that
    /// print_track() prints them, and named by `trackCaller`.
    static let trackAllocAddr: UInt64 = 0xffff_ffff_8100_0001
    static let trackFreeAddr: UInt64 = 0xffff_ffff_8100_0002

}

extension SlubState {
    /// A misuse Linux would not notice without slub_debug: the model refuses it and says so.
    mutating func modelReport(_ id: CacheID, _ object: UInt64, _ what: String, _ log: inout KernelLog) {
        log.info("kmemlab: \(caches[id].name): \(what) of \(pa(object)) refused (Linux 6.1 without slub_debug does not check this and would corrupt the freelist)")
    }

    /// Linux: setup_slab_debug(): a poisoned cache's new slab is filled with POISON_INUSE.
    mutating func setupSlabDebug(_ id: CacheID, _ sid: SlabID, _ mem: inout PhysMemory) {
        guard caches[id].flags.contains(.poison) else { return }
        let slab = slabs[sid]
        mem.fill(slab.pfn.physAddr, pageSize << UInt64(slab.order), SlabPoison.inUse)
    }

    /// Linux: setup_object() → setup_object_debug() (the constructor is not run: see
    /// KmemCacheSpec.ctor).
    mutating func setupObject(_ id: CacheID, _ object: UInt64, _ mem: inout PhysMemory) {
        if caches[id].flags.isDisjoint(with: [.storeUser, .redZone, .objectPoison]) { return }
        setupObjectDebug(id, object, &mem)
    }

    mutating func setupObjectDebug(_ id: CacheID, _ object: UInt64, _ mem: inout PhysMemory) {
        initObject(id, object, SlabPoison.redInactive, &mem)
        let s = caches[id]
        if s.flags.contains(.storeUser) {
            mem.fill(object &- directMapBase &+ UInt64(s.infoEnd), UInt64(2 * Kernel.trackSize), 0)
        }
    }

    /// Linux: init_object().
    mutating func initObject(_ id: CacheID, _ object: UInt64, _ val: UInt8, _ mem: inout PhysMemory) {
        let s = caches[id]
        let p = object &- directMapBase
        if s.flags.contains(.redZone) { mem.fill(p &- UInt64(s.redLeftPad), UInt64(s.redLeftPad), val) }
        if s.flags.contains(.objectPoison) {
            mem.fill(p, UInt64(s.objectSize - 1), SlabPoison.free)
            mem.write(p &+ UInt64(s.objectSize - 1), SlabPoison.end)
        }
        if s.flags.contains(.redZone) { mem.fill(p &+ UInt64(s.objectSize), UInt64(s.inuse - s.objectSize), val) }
    }

    /// Linux: set_track() — what the model can record of a caller.
    mutating func setTrack(_ id: CacheID, _ object: UInt64, free: Bool, cpu: Int, _ mem: inout PhysMemory) {
        let s = caches[id]
        guard s.flags.contains(.storeUser) else { return }
        let t = object &- directMapBase &+ UInt64(s.infoEnd + (free ? Kernel.trackSize : 0))
        mem.writeWord(t, free ? Kernel.trackFreeAddr : Kernel.trackAllocAddr)   // addr
        mem.writeWord(t + 8, UInt64(UInt32(cpu)) << 32)                         // handle, cpu
        mem.writeWord(t + 16, 1)                                                 // pid
        mem.writeWord(t + 24, 0)                                                 // when
    }

    /// Linux: slab_bug().
    mutating func slabBug(_ id: CacheID, _ what: String, _ log: inout KernelLog) {
        log.info("=============================================================================")
        // A message ending in a newline (Linux's "… are to be freed\n") leaves an empty line.
        let trimmed = what.hasSuffix("\n") ? String(what.dropLast()) : what
        let taint = log.taintText
        log.info("BUG \(caches[id].name) (\(taint)): \(trimmed)")
        if trimmed != what { log.info("") }
        log.info("-----------------------------------------------------------------------------")
        log.info("")
    }

    /// Linux: slab_fix().
    mutating func slabFix(_ id: CacheID, _ what: String, _ log: inout KernelLog) {
        errors += 1
        log.info("FIX \(caches[id].name): \(what)")
    }

    /// Linux: print_slab_info().
    func slabInfoLine(_ sid: SlabID, _ pages: PageAllocator) -> String {
        let slab = slabs[sid]
        let page = pages.vmemmapBase &+ slab.pfn.raw &* 64
        return "Slab \(pa(page)) objects=\(slab.objects) used=\(slab.inuse) fp=\(pa(slab.freelist)) flags=\(pages.pageFlagsText(slab.pfn))"
    }

    /// Linux: slab_err().
    mutating func slabErr(_ id: CacheID, _ sid: SlabID, _ what: String,
                          _ pages: inout PageAllocator, _ log: inout KernelLog) {
        errors += 1
        slabBug(id, what, &log)
        log.info(slabInfoLine(sid, pages))
        log.taint |= KernelLog.taintBadPage
    }

    /// Linux: object_err().
    mutating func objectErr(_ id: CacheID, _ sid: SlabID, _ object: UInt64, _ reason: String,
                            _ pages: inout PageAllocator, _ mem: inout PhysMemory, _ log: inout KernelLog) {
        errors += 1
        slabBug(id, reason, &log)
        if object == 0 || !checkValidPointer(id, sid, object) {
            log.info(slabInfoLine(sid, pages))
            log.info("Invalid pointer \(pa(object))")
        } else {
            printTrailer(id, sid, object, &pages, &mem, &log)
        }
        log.taint |= KernelLog.taintBadPage
    }

    /// Linux: print_section() → print_hex_dump(DUMP_PREFIX_ADDRESS, 16, 1, ascii).
    mutating func printSection(_ text: String, _ addr: UInt64, _ length: Int,
                               _ mem: inout PhysMemory, _ log: inout KernelLog) {
        var off = 0
        while off < length {
            let n = Swift.min(16, length - off)
            var hexPart = "", ascii = ""
            for i in 0..<n {
                let b = mem.read(addr &+ UInt64(off + i) &- directMapBase)
                hexPart += (i == 0 ? "" : " ") + padLeftZero(String(b, radix: 16), 2)
                ascii.append(b >= 0x20 && b < 0x7f ? Character(Unicode.Scalar(b)) : ".")
            }
            while hexPart.utf8.count < 49 { hexPart += " " }
            log.info("\(text)\(ptr(addr &+ UInt64(off))): \(hexPart)\(ascii)")
            off += 16
        }
    }

    /// Linux: print_trailer().
    mutating func printTrailer(_ id: CacheID, _ sid: SlabID, _ p: UInt64,
                               _ pages: inout PageAllocator, _ mem: inout PhysMemory, _ log: inout KernelLog) {
        let s = caches[id]
        let addr = slabAddress(sid)
        if s.flags.contains(.storeUser) {
            for (label, free) in [("Allocated", false), ("Freed", true)] {
                let t = p &- directMapBase &+ UInt64(s.infoEnd + (free ? Kernel.trackSize : 0))
                let caller = mem.readWord(t)
                if caller == 0 { continue }
                let cpu = mem.readWord(t + 8) >> 32
                let name = caller == Kernel.trackAllocAddr ? "kmem_cache_alloc" : "kmem_cache_free"
                log.info("\(label) in \(name) age=0 cpu=\(cpu) pid=1")
                log.info("object allocation/free stack trace missing")
            }
        }
        log.info(slabInfoLine(sid, pages))
        log.info("Object \(pa(p)) @offset=\(p &- addr) fp=\(pa(getFreepointer(id, p, mem)))")
        log.info("")
        if s.flags.contains(.redZone) {
            printSection("Redzone  ", p &- UInt64(s.redLeftPad), s.redLeftPad, &mem, &log)
        } else if p > addr &+ 16 {
            printSection("Bytes b4 ", p &- 16, 16, &mem, &log)
        }
        printSection("Object   ", p, Swift.min(s.objectSize, Int(pageSize)), &mem, &log)
        if s.flags.contains(.redZone) {
            printSection("Redzone  ", p &+ UInt64(s.objectSize), s.inuse - s.objectSize, &mem, &log)
        }
        var off = s.infoEnd
        if s.flags.contains(.storeUser) { off += 2 * Kernel.trackSize }
        if s.flags.contains(.storeUser) && s.flags.contains(.kmalloc) { off += 4 }
        if off != sizeFromObject(s) { printSection("Padding  ", p &+ UInt64(off), sizeFromObject(s) - off, &mem, &log) }
    }

    /// Linux: size_from_object().
    func sizeFromObject(_ s: KmemCache) -> Int { s.flags.contains(.redZone) ? s.size - s.redLeftPad : s.size }

    /// Linux: check_bytes_and_report(): a byte range that should hold `value`; on a mismatch
    /// the report, then the bytes are restored.
    mutating func checkBytesAndReport(_ id: CacheID, _ sid: SlabID, _ object: UInt64, _ what: String,
                                      _ start: UInt64, _ value: UInt8, _ bytes: Int,
                                      _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                      _ log: inout KernelLog) -> Bool {
        guard bytes > 0, let faultPhys = mem.firstMismatch(start &- directMapBase, UInt64(bytes), value) else { return true }
        let fault = faultPhys &+ directMapBase
        var end = start &+ UInt64(bytes)
        while end > fault && mem.read(end &- 1 &- directMapBase) == value { end -= 1 }
        errors += 1
        slabBug(id, "\(what) overwritten", &log)
        let first = mem.read(faultPhys)
        log.info("\(pa(fault))-\(pa(end &- 1)) @offset=\(fault &- slabAddress(sid)). First byte 0x\(String(first, radix: 16)) instead of 0x\(String(value, radix: 16))")
        printTrailer(id, sid, object, &pages, &mem, &log)
        log.taint |= KernelLog.taintBadPage
        slabFix(id, "Restoring \(what) \(pa(fault))-\(pa(end &- 1))=0x\(String(value, radix: 16))", &log)
        mem.fill(faultPhys, end &- fault, value)
        return false
    }

    /// Linux: check_pad_bytes().
    mutating func checkPadBytes(_ id: CacheID, _ sid: SlabID, _ p: UInt64,
                                _ pages: inout PageAllocator, _ mem: inout PhysMemory, _ log: inout KernelLog) -> Bool {
        let s = caches[id]
        var off = s.infoEnd
        if s.flags.contains(.storeUser) {
            off += 2 * Kernel.trackSize
            if s.flags.contains(.kmalloc) { off += 4 }
        }
        if sizeFromObject(s) == off { return true }
        return checkBytesAndReport(id, sid, p, "Object padding", p &+ UInt64(off), SlabPoison.inUse,
                                   sizeFromObject(s) - off,
                                   &pages, &mem, &log)
    }

    /// Linux: slab_pad_check(): the bytes after the last object of a poisoned cache's slab.
    mutating func slabPadCheck(_ id: CacheID, _ sid: SlabID,
                               _ pages: inout PageAllocator, _ mem: inout PhysMemory, _ log: inout KernelLog) {
        let s = caches[id]
        guard s.flags.contains(.poison) else { return }
        let slab = slabs[sid]
        let start = slabAddress(sid)
        let length = Int(pageSize) << Int(slab.order)
        let remainder = length % s.size
        guard remainder > 0 else { return }
        let pad = start &+ UInt64(length - remainder)
        guard let faultPhys = mem.firstMismatch(pad &- directMapBase, UInt64(remainder), SlabPoison.inUse) else { return }
        let fault = faultPhys &+ directMapBase
        var end = start &+ UInt64(length)
        while end > fault && mem.read(end &- 1 &- directMapBase) == SlabPoison.inUse { end -= 1 }
        slabErr(id, sid, "Padding overwritten. \(pa(fault))-\(pa(end &- 1)) @offset=\(fault &- start)", &pages, &log)
        printSection("Padding ", pad, remainder, &mem, &log)
        slabFix(id, "Restoring slab padding \(pa(fault))-\(pa(end &- 1))=0x5a", &log)
        mem.fill(faultPhys, end &- fault, SlabPoison.inUse)
    }

    /// Linux: check_object().
    mutating func checkObject(_ id: CacheID, _ sid: SlabID, _ p: UInt64, _ val: UInt8,
                              _ pages: inout PageAllocator, _ mem: inout PhysMemory, _ log: inout KernelLog) -> Bool {
        let s = caches[id]
        let endObject = p &+ UInt64(s.objectSize)
        if s.flags.contains(.redZone) {
            if !checkBytesAndReport(id, sid, p, "Left Redzone", p &- UInt64(s.redLeftPad), val, s.redLeftPad,
                                    &pages, &mem, &log) { return false }
            if !checkBytesAndReport(id, sid, p, "Right Redzone", endObject, val, s.inuse - s.objectSize,
                                    &pages, &mem, &log) { return false }
        } else if s.flags.contains(.poison) && s.objectSize < s.inuse {
            _ = checkBytesAndReport(id, sid, p, "Alignment padding", endObject, SlabPoison.inUse,
                                    s.inuse - s.objectSize,
                                    &pages, &mem, &log)
        }
        if s.flags.contains(.poison) {
            if val != SlabPoison.redActive && s.flags.contains(.objectPoison) {
                if !checkBytesAndReport(id, sid, p, "Poison", p, SlabPoison.free, s.objectSize - 1,
                                        &pages, &mem, &log) { return false }
                if !checkBytesAndReport(id, sid, p, "End Poison", endObject &- 1, SlabPoison.end, 1,
                                        &pages, &mem, &log) { return false }
            }
            _ = checkPadBytes(id, sid, p, &pages, &mem, &log)
        }
        if !s.freeptrOutsideObject && val == SlabPoison.redActive { return true }
        if !checkValidPointer(id, sid, getFreepointer(id, p, mem)) {
            objectErr(id, sid, p, "Freepointer corrupt", &pages, &mem, &log)
            setFreepointer(id, p, 0, &mem)
            return false
        }
        return true
    }

    /// Linux: check_slab().
    mutating func checkSlab(_ id: CacheID, _ sid: SlabID,
                            _ pages: inout PageAllocator, _ mem: inout PhysMemory, _ log: inout KernelLog) -> Bool {
        let slab = slabs[sid]
        let maxObj = Kernel.orderObjects(Int(slab.order), caches[id].size)
        if Int(slab.objects) > maxObj {
            slabErr(id, sid, "objects \(slab.objects) > max \(maxObj)", &pages, &log); return false
        }
        if slab.inuse > slab.objects {
            slabErr(id, sid, "inuse \(slab.inuse) > max \(slab.objects)", &pages, &log); return false
        }
        if slab.frozen && caches[id].isDebug && slab.where_ == .none {
            slabErr(id, sid, "Slab disabled since SLUB metadata consistency check failed", &pages, &log); return false
        }
        slabPadCheck(id, sid, &pages, &mem, &log)
        return true
    }

    /// Linux: on_freelist(): walk the slab's freelist looking for `search` (0: just count and
    /// repair the counters).
    mutating func onFreelist(_ id: CacheID, _ sid: SlabID, _ search: UInt64,
                             _ pages: inout PageAllocator, _ mem: inout PhysMemory, _ log: inout KernelLog) -> Bool {
        var nr: Int32 = 0
        var fp = slabs[sid].freelist
        var object: UInt64 = 0
        while fp != 0 && nr <= slabs[sid].objects {
            if fp == search { return true }
            if !checkValidPointer(id, sid, fp) {
                if object != 0 {
                    objectErr(id, sid, object, "Freechain corrupt", &pages, &mem, &log)
                    setFreepointer(id, object, 0, &mem)
                } else {
                    slabErr(id, sid, "Freepointer corrupt", &pages, &log)
                    slabs[sid].freelist = 0
                    slabs[sid].inuse = slabs[sid].objects
                    slabFix(id, "Freelist cleared", &log)
                    return false
                }
                break
            }
            object = fp
            fp = getFreepointer(id, object, mem)
            nr += 1
        }
        let maxObjects = Int32(Swift.min(32767, Kernel.orderObjects(Int(slabs[sid].order), caches[id].size)))
        if slabs[sid].objects != maxObjects {
            slabErr(id, sid, "Wrong number of objects. Found \(slabs[sid].objects) but should be \(maxObjects)",
                    &pages, &log)
            slabs[sid].objects = maxObjects
            slabFix(id, "Number of objects adjusted", &log)
        }
        if slabs[sid].inuse != slabs[sid].objects - nr {
            slabErr(id, sid, "Wrong object count. Counter is \(slabs[sid].inuse) but counted were \(slabs[sid].objects - nr)",
                    &pages, &log)
            slabs[sid].inuse = slabs[sid].objects - nr
            slabFix(id, "Object count adjusted", &log)
        }
        return search == 0
    }

    /// Linux: alloc_debug_processing().
    mutating func allocDebugProcessing(_ id: CacheID, _ sid: SlabID, _ object: UInt64, origSize: Int,
                                       _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                       _ log: inout KernelLog) -> Bool {
        let s = caches[id]
        var ok = true
        if s.flags.contains(.consistencyChecks) {
            if !checkSlab(id, sid, &pages, &mem, &log) { ok = false }
            else if !checkValidPointer(id, sid, object) {
                objectErr(id, sid, object, "Freelist Pointer check fails", &pages, &mem, &log); ok = false
            } else if !checkObject(id, sid, object, SlabPoison.redInactive, &pages, &mem, &log) { ok = false }
        }
        if ok {
            if s.flags.contains(.trace) {
                log.info("TRACE \(s.name) alloc \(pa(object)) inuse=\(slabs[sid].inuse) fp=\(pa(slabs[sid].freelist))")
            }
            if s.flags.contains(.storeUser) && s.flags.contains(.kmalloc) {
                let at = object &- directMapBase &+ UInt64(s.infoEnd + 2 * Kernel.trackSize)
                for i in 0..<4 { mem.write(at + UInt64(i), UInt8(truncatingIfNeeded: origSize >> (8 * i))) }
            }
            initObject(id, object, SlabPoison.redActive, &mem)
            return true
        }
        // The slab is given up: every object counts as used.
        slabFix(id, "Marking all objects used", &log)
        slabs[sid].inuse = slabs[sid].objects
        slabs[sid].freelist = 0
        slabs[sid].frozen = true
        return false
    }

    /// Linux: alloc_single_from_partial().
    mutating func allocSingleFromPartial(_ id: CacheID, _ sid: SlabID, origSize: Int,
                                         _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                         _ log: inout KernelLog) -> UInt64? {
        let object = slabs[sid].freelist
        slabs[sid].freelist = getFreepointer(id, object, mem)
        slabs[sid].inuse += 1
        if !allocDebugProcessing(id, sid, object, origSize: origSize, &pages, &mem, &log) {
            removePartial(id, sid)
            return nil
        }
        if slabs[sid].inuse == slabs[sid].objects {
            removePartial(id, sid)
            addFull(id, sid)
        }
        setTrack(id, object, free: false, cpu: 0, &mem)
        return object
    }

    /// Linux: alloc_single_from_new_slab().
    mutating func allocSingleFromNewSlab(_ id: CacheID, _ sid: SlabID, origSize: Int,
                                         _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                         _ log: inout KernelLog) -> UInt64? {
        let object = slabs[sid].freelist
        slabs[sid].freelist = getFreepointer(id, object, mem)
        slabs[sid].inuse = 1
        if !allocDebugProcessing(id, sid, object, origSize: origSize, &pages, &mem, &log) { return nil }
        if slabs[sid].inuse == slabs[sid].objects { addFull(id, sid) }
        else { addPartial(id, sid, toTail: false) }
        incSlabsNode(id, slabs[sid].nid, objects: Int(slabs[sid].objects))
        setTrack(id, object, free: false, cpu: 0, &mem)
        return object
    }

    /// Linux: free_consistency_checks().
    mutating func freeConsistencyChecks(_ id: CacheID, _ sid: SlabID, _ object: UInt64,
                                        _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                        _ log: inout KernelLog) -> Bool {
        if !checkValidPointer(id, sid, object) {
            slabErr(id, sid, "Invalid object pointer \(pa(object))", &pages, &log); return false
        }
        if onFreelist(id, sid, object, &pages, &mem, &log) {
            objectErr(id, sid, object, "Object already free", &pages, &mem, &log); return false
        }
        if !checkObject(id, sid, object, SlabPoison.redActive, &pages, &mem, &log) { return false }
        return true
    }

    /// Linux: free_to_partial_list() with free_debug_processing().
    mutating func freeToPartialList<L: PageAllocListener>(_ id: CacheID, _ sid: SlabID, _ object: UInt64, cpu: Int,
                                                          _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                                          _ log: inout KernelLog,
                                                        _ l: inout L) -> SlabFreeOutcome {
        let s = caches[id]
        var ok = false
        var why = SlabMisuse.notObjectStart
        checks: do {
            if s.flags.contains(.consistencyChecks) && !checkSlab(id, sid,
                                                                  &pages, &mem,
                                                                  &log) { why = .slabCheckFailed; break checks }
            if slabs[sid].inuse < 1 {
                slabErr(id, sid, "Slab has \(slabs[sid].inuse) allocated objects but 1 are to be freed\n", &pages, &log)
                why = .noAllocatedObjects
                break checks
            }
            if s.flags.contains(.consistencyChecks) {
                if !freeConsistencyChecks(id, sid, object,
                                          &pages, &mem, &log) { why = .consistencyCheckFailed; break checks }
            } else if let i = objectIndex(id, sid, object) {
                // Without F Linux checks nothing here; the model still refuses what would
                // corrupt it.
                if !isAllocatedObject(sid, i) { modelReport(id, object, "double free",
                                                            &log); why = .doubleFree; break checks }
            } else {
                modelReport(id, object, "free of a pointer that is not an object's start", &log)
                why = .notObjectStart
                break checks
            }
            setTrack(id, object, free: true, cpu: cpu, &mem)
            if s.flags.contains(.trace) {
                log.info("TRACE \(s.name) free \(pa(object)) inuse=\(slabs[sid].inuse) fp=\(pa(slabs[sid].freelist))")
            }
            initObject(id, object, SlabPoison.redInactive, &mem)
            ok = true
        }
        if !ok {
            slabFix(id, "Object at \(pa(object)) not freed", &log)
            l.slab(.misuse(cache: id, object: object, what: why))
            return .refused(why)
        }
        if let i = objectIndex(id, sid, object) { setAllocatedObject(sid, i, false) }
        let nid = slabs[sid].nid.number
        let prior = slabs[sid].freelist
        slabs[sid].inuse -= 1
        setFreepointer(id, object, prior, &mem)
        slabs[sid].freelist = object
        let empty = slabs[sid].inuse == 0 && caches[id].node[nid].nrPartial >= s.minPartial
        if prior == 0 {
            removeFull(id, sid)
            if !empty { addPartial(id, sid, toTail: true) }
        } else if empty {
            removePartial(id, sid)
        }
        l.slab(.freeSlow(cache: id, object: object, slab: slabAddress(sid), to: empty ? .none : slabs[sid].where_))
        if empty { discardSlab(id, sid, cpu: cpu, &pages, &mem, &log, &l) }
        return .freed
    }

    /// Linux: validate_slab_cache() (what writing 1 to /sys/kernel/slab/<cache>/validate does):
    /// flush the CPUs, then check every slab on the node lists. Returns the slabs checked.
    @discardableResult
    public mutating func validateSlabCache(_ id: CacheID,
                                           _ pages: inout PageAllocator, _ mem: inout PhysMemory,
                                           _ log: inout KernelLog) -> Int {
        for cpu in 0..<possibleCPUs { flushCPUSlab(id, cpu: cpu, &pages, &mem, &log) }
        var total = 0
        for nid in caches[id].node.indices where caches[id].node[nid].present {
            var count = validateList(id, from: caches[id].node[nid].partialHead, &pages, &mem, &log)
            if count != caches[id].node[nid].nrPartial {
                log.info("SLUB \(caches[id].name): \(count) partial slabs counted but counter=\(caches[id].node[nid].nrPartial)")
                errors += 1
            }
            if caches[id].flags.contains(.storeUser) {
                count += validateList(id, from: caches[id].node[nid].fullHead, &pages, &mem, &log)
                if count != caches[id].node[nid].nrSlabs {
                    log.info("SLUB: \(caches[id].name) \(count) slabs counted but counter=\(caches[id].node[nid].nrSlabs)")
                    errors += 1
                }
            }
            total += count
        }
        return total
    }

    /// Validates each slab of a node list; returns how many there were.
    mutating func validateList(_ id: CacheID, from head: SlabID,
                               _ pages: inout PageAllocator, _ mem: inout PhysMemory, _ log: inout KernelLog) -> Int {
        var count = 0
        var sid = head
        while !sid.isNone {
            validateSlab(id, sid, &pages, &mem, &log)
            count += 1
            sid = slabs[sid].next
        }
        return count
    }

    /// Linux: validate_slab().
    mutating func validateSlab(_ id: CacheID, _ sid: SlabID,
                               _ pages: inout PageAllocator, _ mem: inout PhysMemory, _ log: inout KernelLog) {
        guard checkSlab(id, sid, &pages, &mem, &log), onFreelist(id, sid, 0, &pages, &mem, &log) else { return }
        let s = caches[id]
        let objects = Int(slabs[sid].objects)
        var free = [Bool](repeating: false, count: objects)
        var p = slabs[sid].freelist
        var guardCount = 0
        while p != 0 && guardCount <= objects {
            if let i = objectIndex(id, sid, p) { free[i] = true }
            p = getFreepointer(id, p, mem)
            guardCount += 1
        }
        let first = slabAddress(sid) &+ UInt64(s.redLeftPad)
        for i in 0..<objects {
            let o = first &+ UInt64(i * s.size)
            if !checkObject(id, sid, o, free[i] ? SlabPoison.redInactive : SlabPoison.redActive,
                            &pages, &mem, &log) { break }
        }
    }
}
