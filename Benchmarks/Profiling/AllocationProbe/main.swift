#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// What making (and freeing) one array or dictionary costs, by the way it is made: run under
// callgrind by allocation-probe.sh, which subtracts two runs of different lengths.
//
//     AllocationProbe MODE COUNT

@inline(never) func keep(_ bytes: [UInt8]) { if bytes.count == 12_345 { print("unexpected") } }
@inline(never) func keep(_ map: [String: Int]) { if map.count == 12_345 { print("unexpected") } }

let zeros = [UInt8](repeating: 0, count: 512)
let arguments = CommandLine.arguments
guard arguments.count == 3, let count = Int(arguments[2]) else {
    print("usage: AllocationProbe repeating|uninitialized|copy-on-write|reserve|dictionary COUNT")
    exit(2)
}
switch arguments[1] {
case "repeating":  // a new zeroed 512-byte array
    for _ in 0..<count { keep([UInt8](repeating: 0, count: 512)) }
case "uninitialized":  // the same through unsafeUninitializedCapacity
    for _ in 0..<count {
        keep([UInt8](unsafeUninitializedCapacity: 512) { buffer, initialized in
            memset(buffer.baseAddress!, 0, 512)
            initialized = 512
        })
    }
case "copy-on-write":  // a copy of a shared zeroed array, made by the first write
    for _ in 0..<count {
        var copy = zeros
        copy.withUnsafeMutableBufferPointer { $0[0] = 1 }
        keep(copy)
    }
case "reserve":  // an empty array with 512 bytes reserved
    for _ in 0..<count {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        keep(bytes)
    }
case "dictionary":  // a one-entry [String: Int]
    for _ in 0..<count {
        var map = [String: Int](minimumCapacity: 1)
        map["a"] = 1
        keep(map)
    }
default:
    print("unknown mode \(arguments[1])")
    exit(2)
}
