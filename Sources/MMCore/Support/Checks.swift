// Consistency checks of the model: on in debug builds (MMCORE_CHECKS), folded away in release.
//
// Linux: include/linux/mmdebug.h — VM_BUG_ON, which still type-checks its condition when
// CONFIG_DEBUG_VM is off. mmAssert does the same: the condition is always compiled, and evaluated
// only when the build defines MMCORE_CHECKS. A failed check is a bug in kmemlab itself, never the
// simulated kernel's misuse (that is reported, not trapped).

#if MMCORE_CHECKS
@usableFromInline let mmChecksEnabled = true
#else
@usableFromInline let mmChecksEnabled = false
#endif

@inline(__always)
public func mmAssert(_ condition: @autoclosure () -> Bool, _ message: StaticString) {
    if mmChecksEnabled && !condition() {
        fatalError("kmemlab invariant broken: \(message)")
    }
}
