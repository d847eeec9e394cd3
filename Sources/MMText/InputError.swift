// Errors in what a user gives kmemlab: a log, a machine file, an option. Each names the file,
// the line (when there is one) and the field, and the CLI exits with status 2.

public struct InputError: Error, Equatable, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?
    public var field: String
    public var message: String

    public init(file: String, line: Int? = nil, field: String, _ message: String) {
        self.file = file; self.line = line; self.field = field; self.message = message
    }

    public var description: String {
        let where_ = line.map { "\(file):\($0)" } ?? file
        return "\(where_): \(field): \(message)"
    }
}

/// The largest physical address x86-64 can have (52 bits, 5-level paging); a machine that names
/// memory beyond it is refused rather than booted.
public let maxPhysAddrBits: UInt64 = 52

/// Parses "0x…" (or plain hex digits) into a UInt64; nil when it is not hex or overflows.
public func parseHex(_ text: Substring) -> UInt64? {
    var t = text
    if t.hasPrefix("0x") || t.hasPrefix("0X") { t = t.dropFirst(2) }
    if t.isEmpty || t.count > 16 { return nil }
    return UInt64(t, radix: 16)
}

/// Parses an e820 type as Linux prints it ("usable", "ACPI data", "type 20", …).
public func parseE820TypeName(_ text: Substring) -> MMCore.E820Type? {
    switch text {
    case "usable": return .ram
    case "reserved": return .reserved
    case "ACPI data": return .acpi
    case "ACPI NVS": return .nvs
    case "unusable": return .unusable
    case "soft reserved": return .softReserved
    default:
        var t = text
        if t.hasPrefix("persistent (type ") && t.hasSuffix(")") {
            t = t.dropFirst("persistent (type ".count).dropLast()
        } else if t.hasPrefix("type ") {
            t = t.dropFirst(5)
        } else {
            return nil
        }
        return UInt32(t).map { E820Type($0) }
    }
}

import MMCore
