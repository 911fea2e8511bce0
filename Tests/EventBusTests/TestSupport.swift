import Foundation
import Testing
@testable import EventBus

/// A thread-safe list that handlers append to.
final class Recorder<Element: Sendable>: Sendable {
    private let box = LockedValueBox<[Element]>([])

    func append(_ element: Element) { box.withLockedValue { $0.append(element) } }
    var values: [Element] { box.withLockedValue { $0 } }
    var count: Int { box.withLockedValue { $0.count } }
}

/// A class whose deallocation a test can observe through a weak reference.
final class Token: Sendable {
    let name: String
    init(_ name: String = "token") { self.name = name }
}

/// Runs `body(index)` on `count` new threads at once and waits (with a deadline) for all of them.
func runOnThreads(_ count: Int, timeout: Double = 120, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            body(index)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    let result = group.wait(timeout: .now() + timeout)
    #expect(result == .success, "threads did not finish within \(timeout) s")
}

/// Polls `condition` until it holds or the deadline passes; returns whether it held.
func eventually(timeout: Double = 10, _ condition: @Sendable () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        await Task.yield()
    }
    return condition()
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A small deterministic generator (SplitMix64), so a failing seed can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
