// The shape rules of MMCore, checked on its source: a kernel reader finds each concept under
// Linux's name in a file headed by the Linux functions it models, each folder opens with an
// overview essay, the model imports nothing (so it compiles as Embedded Swift), and functions
// stay short enough to read against the kernel's. A function may be longer when a comment line
// just above it says why ("// tidy: long — …"): tables and parsers, mostly.

import Foundation
import Testing

@Suite("tidy: MMCore's shape")
struct TidyTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources/MMCore")
    static let maxFunctionLines = 80

    /// Every Swift file of MMCore, relative path and lines.
    static func sources() throws -> [(path: String, lines: [String])] {
        let fm = FileManager.default
        guard let e = fm.enumerator(atPath: root.path) else { return [] }
        var out: [(String, [String])] = []
        for case let rel as String in e where rel.hasSuffix(".swift") {
            let text = try String(contentsOf: root.appendingPathComponent(rel), encoding: .utf8)
            out.append((rel, text.components(separatedBy: "\n")))
        }
        return out.sorted { $0.0 < $1.0 }
    }

    @Test("there are sources to check")
    func found() throws {
        #expect(try Self.sources().count > 40)
    }

    @Test("every file opens with a header that names the Linux it models (\"Linux:\")")
    func linuxHeader() throws {
        for (path, lines) in try Self.sources() {
            let header = lines.prefix { $0.hasPrefix("//") || $0.isEmpty }
            #expect(header.contains { $0.hasPrefix("// Linux:") }, "\(path) has no \"// Linux:\" line in its header")
        }
    }

    @Test("every folder of concern opens with an overview essay (README.md)")
    func essays() throws {
        let folders = Set(try Self.sources().compactMap { $0.path.split(separator: "/").dropLast().first.map(String.init) })
        #expect(folders.count >= 8)
        for f in folders.sorted() {
            let essay = Self.root.appendingPathComponent("\(f)/README.md")
            let text = (try? String(contentsOf: essay, encoding: .utf8)) ?? ""
            #expect(text.split(separator: "\n").count >= 20, "\(f)/README.md is missing or a stub")
        }
    }

    @Test("the model imports nothing and uses no existentials, key paths or reflection")
    func embeddedClean() throws {
        for (path, lines) in try Self.sources() {
            for (i, raw) in lines.enumerated() {
                let code = Self.code(raw)
                #expect(code.range(of: #"(^|\s)import\s"#, options: .regularExpression) == nil, "\(path):\(i + 1): MMCore imports nothing")
                #expect(code.range(of: #"\bany [A-Z]"#, options: .regularExpression) == nil, "\(path):\(i + 1): an existential")
                #expect(code.range(of: #"\\[A-Za-z_.]"#, options: .regularExpression) == nil, "\(path):\(i + 1): a key path")
                #expect(code.range(of: #"\bthrows\s*(->|\{)"#, options: .regularExpression) == nil, "\(path):\(i + 1): untyped throws")
                #expect(code.range(of: #"\bMirror\("#, options: .regularExpression) == nil, "\(path):\(i + 1): reflection")
            }
        }
    }

    @Test("no function is longer than 80 lines unless a comment says why")
    func shortFunctions() throws {
        var long: [String] = []
        for (path, lines) in try Self.sources() {
            for (start, n) in Self.functions(lines) where n > Self.maxFunctionLines {
                let before = lines[..<start].reversed().prefix { $0.trimmingCharacters(in: .whitespaces).hasPrefix("//") || $0.trimmingCharacters(in: .whitespaces).hasPrefix("@") }
                if before.contains(where: { $0.contains("tidy: long") }) { continue }
                long.append("\(path):\(start + 1) (\(n) lines)")
            }
        }
        #expect(long.isEmpty, "over \(Self.maxFunctionLines) lines: \(long)")
    }

    @Test("the function measure finds bodies and ignores braces in strings and comments")
    func measure() {
        let sample = [
            "struct S {",
            "    func a() {",
            "        let s = \"{{{\" // }",
            "        if true {",
            "        }",
            "    }",
            "    func b() -> Int { 1 }",
            "    func c(_ x: Int,",
            "           _ y: Int) -> Int {",
            "        x + y",
            "    }",
            "}",
        ]
        #expect(Self.functions(sample).map { $0.1 } == [5, 1, 4])
    }

    /// A line without its comment and string literals' contents.
    static func code(_ line: String) -> String {
        var out = ""
        var inString = false
        var escaped = false
        var prev: Character = " "
        for c in line {
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false; out.append(c) }
            } else {
                if c == "/" && prev == "/" { out.removeLast(); break }
                if c == "\"" { inString = true }
                out.append(c)
            }
            prev = c
        }
        return out.trimmingCharacters(in: .whitespaces)
    }

    /// (first line index, line count) of every func, init and subscript with a body.
    static func functions(_ lines: [String]) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        let decl = #"^(@[A-Za-z_]+(\([^)]*\))?\s+)*((public|private|fileprivate|internal|static|mutating|nonmutating|override|final|package|convenience|required|nonisolated|consuming|borrowing|open)\s+)*(func\s|init[(<?]|subscript[(<])"#
        for (i, raw) in lines.enumerated() {
            let first = code(raw)
            guard first.range(of: decl, options: .regularExpression) != nil else { continue }
            // The body starts at the first "{" of the declaration; a requirement has none.
            var depth = 0
            var opened = false
            var j = i
            scan: while j < lines.count {
                let c = code(lines[j])
                if !opened && j > i && (c.isEmpty || c.range(of: decl, options: .regularExpression) != nil) { break }
                for ch in c {
                    if ch == "{" { depth += 1; opened = true }
                    if ch == "}" { depth -= 1 }
                    if opened && depth == 0 { out.append((i, j - i + 1)); break scan }
                }
                j += 1
            }
        }
        return out
    }
}
