// The small reservations at the end of setup_arch(), after the zones exist.
//
// Linux: arch/x86/kernel/acpi/boot.c — acpi_parse_hpet(), acpi_parse_bgrt(); arch/x86/kernel/apic/io_apic.c —
//        ioapic_setup_resources(); arch/x86/kernel/e820.c — e820__reserve_resources(),
//        e820__register_nosave_regions(); drivers/firmware/memmap.c — firmware_map_add_early();
//        kernel/power/snapshot.c — register_nosave_region().
// Exact: each memblock call, its size and caller, and the "PM: hibernation" lines. They are
//        tiny, but they decide where every later top-down allocation lands.

extension Kernel {
    /// The tail of setup_arch() from acpi_boot_init() on.
    mutating func setupArchLate() {
        // acpi_boot_init() → acpi_parse_hpet(): the HPET's resource and its name.
        if !commandLine.has("nohpet") && commandLine.last("acpi") != "off" && machine.acpiTables.contains(where: { $0.signature == "HPET" }) {
            _ = memblock.allocTryNid(size: 64 + 9, align: 64, caller: Caller("acpi_parse_hpet+0xc3/0x132"), log: &log)
        }
        // acpi_boot_init() → acpi_parse_bgrt() → efi_bgrt_init(): the boot logo kept (EFI/),
        // or, for a machine read from a log without its EFI map, the e820 edits that show it.
        if machine.efi?.bgrtImage != nil { efiBgrtInit() }
        applyFirmwareEdits(.acpiBoot)
        // io_apic_init_mappings() → ioapic_setup_resources(): a resource and name per I/O APIC.
        if machine.ioapics > 0 && !commandLine.has("noapic") {
            _ = memblock.allocTryNid(size: UInt64(machine.ioapics) * (64 + 11), align: 64,
                                     caller: Caller("io_apic_init_mappings+0x37/0x1d9"), log: &log)
        }
        e820ReserveResources()
        e820RegisterNosaveRegions(limitPfn: maxPfn.raw)
    }

    /// Linux: e820__reserve_resources(): a struct resource per e820 entry for /proc/iomem, then
    /// the untouched firmware map for /sys/firmware/memmap.
    mutating func e820ReserveResources() {
        _ = memblock.allocTryNid(size: 64 * UInt64(e820.entries.count), align: 64,
                                 caller: Caller("e820__reserve_resources+0x2a/0x1b0"), log: &log)
        for _ in e820Firmware.entries {
            _ = memblock.allocTryNid(size: 104, align: 64, caller: Caller("firmware_map_add_early+0x29/0x53"), log: &log)
        }
    }

    /// Linux: e820__register_nosave_regions(): every gap between RAM entries is memory
    /// hibernation must not save; a gap that continues the previous one extends it.
    mutating func e820RegisterNosaveRegions(limitPfn: UInt64) {
        var lastAddr: PhysAddr = 0
        var lastEnd: UInt64? = nil
        func register(_ start: UInt64, _ end: UInt64, _ k: inout Kernel) {
            guard start < end else { return }
            if lastEnd != start {
                _ = k.memblock.allocTryNid(size: 32, align: 64, caller: Caller("register_nosave_region+0x53/0xd5"), log: &k.log)
            }
            lastEnd = end
            k.log.info("PM: hibernation: Registered nosave memory: [mem \(hexPadded(start << pageShift, width: 10))-\(hexPadded((end << pageShift) - 1, width: 10))]")
        }
        for e in e820.entries where e.type == .ram || e.type == .reservedKern {
            if lastAddr < e.addr { register(Pfn.down(lastAddr).raw, Pfn.up(e.addr).raw, &self) }
            lastAddr = e.end
        }
        register(Pfn.down(lastAddr).raw, limitPfn, &self)
    }
}
