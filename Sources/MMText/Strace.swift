// Memory system calls as `strace -f -e trace=memory` prints them, and /proc/PID/maps.

import MMCore

public enum Strace {
    /// One call, as strace prints it after the pid column: the call padded to 39 columns (counting
    /// the pid column), then "= result".
    public static func line(pid: Int32, _ r: SyscallRecord) -> String {
        let prefix = pad("\(pid)", 5) + " "
        let (call, result) = text(r)
        var s = prefix + call
        if s.count < 39 { s += String(repeating: " ", count: 39 - s.count) }
        return s + " = " + result
    }

    /// The call and its result, without the pid.
    public static func text(_ r: SyscallRecord) -> (String, String) {
        switch r {
        case let .brk(addr, result):
            return ("brk(\(ptr(addr)))", hex(result))
        case let .mmap(addr, length, prot, flags, fd, offset, result):
            let off = offset == 0 ? "0" : hex(offset)
            return ("mmap(\(ptr(addr)), \(length), \(protText(prot)), \(mapText(flags)), \(fd), \(off))", ret(result, address: true))
        case let .munmap(addr, length, result):
            return ("munmap(\(ptr(addr)), \(length))", ret(result, address: false))
        case let .mprotect(addr, length, prot, result):
            return ("mprotect(\(ptr(addr)), \(length), \(protText(prot)))", ret(result, address: false))
        case let .mremap(addr, oldLength, newLength, flags, result):
            return ("mremap(\(ptr(addr)), \(oldLength), \(newLength), \(mremapText(flags)))", ret(result, address: true))
        case let .madvise(addr, length, advice, result):
            return ("madvise(\(ptr(addr)), \(length), \(adviceText(advice)))", ret(result, address: false))
        }
    }

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
    static func ptr(_ v: UInt64) -> String { v == 0 ? "NULL" : hex(v) }

    static func ret(_ r: Int64, address: Bool) -> String {
        if r < 0 && r > -4096 {
            let e = Errno(rawValue: Int32(-r))
            return "-1 " + (e.map { "\($0) (\(errnoText($0)))" } ?? "E\(-r)")
        }
        return address ? hex(UInt64(bitPattern: r)) : "\(r)"
    }

    /// strerror()'s text for the errors the memory calls return.
    public static func errnoText(_ e: Errno) -> String {
        switch e {
        case .EPERM: return "Operation not permitted"
        case .ENOENT: return "No such file or directory"
        case .EINTR: return "Interrupted system call"
        case .EBADF: return "Bad file descriptor"
        case .EAGAIN: return "Resource temporarily unavailable"
        case .ENOMEM: return "Cannot allocate memory"
        case .EACCES: return "Permission denied"
        case .EFAULT: return "Bad address"
        case .EEXIST: return "File exists"
        case .EINVAL: return "Invalid argument"
        case .EFBIG: return "File too large"
        case .ENOSPC: return "No space left on device"
        case .EOVERFLOW: return "Value too large for defined data type"
        }
    }

    public static func protText(_ p: Prot) -> String {
        if p.isEmpty { return "PROT_NONE" }
        var parts: [String] = []
        if p.contains(.read) { parts.append("PROT_READ") }
        if p.contains(.write) { parts.append("PROT_WRITE") }
        if p.contains(.exec) { parts.append("PROT_EXEC") }
        return parts.joined(separator: "|")
    }

    static let mapNames: [(MapFlags, String)] = [
        (.shared, "MAP_SHARED"), (.private, "MAP_PRIVATE"), (.fixed, "MAP_FIXED"), (.anonymous, "MAP_ANONYMOUS"),
        (.growsDown, "MAP_GROWSDOWN"), (.denyWrite, "MAP_DENYWRITE"), (.locked, "MAP_LOCKED"),
        (.noReserve, "MAP_NORESERVE"), (.populate, "MAP_POPULATE"), (.stack, "MAP_STACK"),
        (.fixedNoReplace, "MAP_FIXED_NOREPLACE"),
    ]

    public static func mapText(_ f: MapFlags) -> String {
        var parts: [String] = []
        var rest = f.rawValue
        for (flag, name) in mapNames where f.contains(flag) {
            parts.append(name)
            rest &= ~flag.rawValue
        }
        if rest != 0 { parts.append("0x" + String(rest, radix: 16)) }
        return parts.isEmpty ? "0" : parts.joined(separator: "|")
    }

    static func mremapText(_ f: MremapFlags) -> String {
        var parts: [String] = []
        if f.contains(.mayMove) { parts.append("MREMAP_MAYMOVE") }
        if f.contains(.fixed) { parts.append("MREMAP_FIXED") }
        if f.contains(.dontUnmap) { parts.append("MREMAP_DONTUNMAP") }
        return parts.isEmpty ? "0" : parts.joined(separator: "|")
    }

    public static func adviceText(_ a: Madvice) -> String {
        switch a {
        case .normal: return "MADV_NORMAL"
        case .random: return "MADV_RANDOM"
        case .sequential: return "MADV_SEQUENTIAL"
        case .willNeed: return "MADV_WILLNEED"
        case .dontNeed: return "MADV_DONTNEED"
        case .free: return "MADV_FREE"
        case .remove: return "MADV_REMOVE"
        case .dontFork: return "MADV_DONTFORK"
        case .doFork: return "MADV_DOFORK"
        case .mergeable: return "MADV_MERGEABLE"
        case .unmergeable: return "MADV_UNMERGEABLE"
        case .hugePage: return "MADV_HUGEPAGE"
        case .noHugePage: return "MADV_NOHUGEPAGE"
        }
    }
}

public enum ProcMaps {
    /// /proc/PID/maps (show_map_vma()): start-end, rwxp/s, offset, device, inode, then the name
    /// from column 74: the file's path, [heap], [stack], [vvar], [vdso]; the vsyscall page last.
    public static func lines(_ p: UserProcess) -> [String] {
        var out: [String] = []
        let mm = p.task.mm
        for v in mm.vmas {
            let f = v.flags
            let perms = (f.contains(.read) ? "r" : "-") + (f.contains(.write) ? "w" : "-")
                + (f.contains(.exec) ? "x" : "-") + (f.contains(.mayShare) ? "s" : "p")
            var offset: UInt64 = 0, dev = "00:00", inode: UInt64 = 0, name = ""
            switch v.backing {
            case .file(let i):
                let file = p.files[Int(i)]
                offset = v.pgoff << 12
                dev = hex2(file.major) + ":" + hex2(file.minor)
                inode = file.inode
                name = file.path
            case .vdso: name = "[vdso]"
            case .vvar: name = "[vvar]"
            case .anonymous:
                if v.start <= mm.brk && v.end >= mm.startBrk { name = "[heap]" }
                else if v.start <= mm.startStack && v.end >= mm.startStack { name = "[stack]" }
            }
            out.append(line(v.start, v.end, perms, offset, dev, inode, name))
        }
        out.append(line(0xffff_ffff_ff60_0000, 0xffff_ffff_ff60_1000, "--xp", 0, "00:00", 0, "[vsyscall]"))
        return out
    }

    static func line(_ start: UInt64, _ end: UInt64, _ perms: String, _ offset: UInt64, _ dev: String, _ inode: UInt64, _ name: String) -> String {
        var s = "\(hex8(start))-\(hex8(end)) \(perms) \(hex8(offset)) \(dev) \(inode) "
        if !name.isEmpty {
            // seq_pad(): up to the 72-column mark, then one space.
            if s.count < 72 { s += String(repeating: " ", count: 72 - s.count) }
            s += " " + name
        }
        return s
    }

    static func hex8(_ v: UInt64) -> String {
        let h = String(v, radix: 16)
        return h.count >= 8 ? h : String(repeating: "0", count: 8 - h.count) + h
    }
    static func hex2(_ v: UInt32) -> String {
        let h = String(v, radix: 16)
        return h.count >= 2 ? h : "0" + h
    }
}
