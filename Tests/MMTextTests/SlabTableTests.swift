// --slab-caches tables and the shell's slab commands: bad input names the line and field.

import MMCore
import MMText
import Testing

@Suite("slab cache tables and slab shell commands")
struct SlabTableTests {
    let header = "name\tobject_size\tslab_size\talign\thwcache_align\tctor\talias_of"

    @Test("a table parses: plain caches, ctors, merged names take their directory's geometry")
    func parses() throws {
        let text = header + "\n" + [":A-0000064\t64\t64\t8\t0\t-\t-", "foo\t100\t104\t8\t1\tfoo_ctor+0x0/0x10\t-",
                                    "bar\t64\t64\t8\t0\t-\t:A-0000064", "kmalloc-64\t64\t64\t64\t0\t-\t-"].joined(separator: "\n") + "\n"
        let specs = try SlabCacheTable.parse(text, file: "t.tsv")
        #expect(specs == [KmemCacheSpec(name: "foo", size: 100, align: 8, flags: .hwcacheAlign, ctor: "foo_ctor"),
                          KmemCacheSpec(name: "bar", size: 64, align: 8, flags: .account)])
    }

    @Test("malformed tables name the line and field", arguments: [
        ("", "header"), ("name\tsize\n", "object_size"), ("name\tobject_size\nfoo\n", "row"),
        ("name\tobject_size\nfoo\tbig\n", "object_size"), ("name\tobject_size\nfoo\t4\n", "object_size"),
        ("name\tobject_size\thwcache_align\nfoo\t64\t2\n", "hwcache_align"),
        ("name\tobject_size\talias_of\nfoo\t64\t:nowhere\n", "alias_of"), ("name\tobject_size\n\t64\n", "name"),
    ])
    func malformed(_ text: String, _ field: String) {
        #expect { try SlabCacheTable.parse(text, file: "t.tsv") } throws: { e in
            guard let e = e as? InputError else { return false }
            return e.field == field && e.file == "t.tsv"
        }
    }
}
